"""The embedded search engine. For now: the query DSL over JSON documents, used by the ML
system-index search endpoints. Never imports ``runtime``; models are reached through services."""
