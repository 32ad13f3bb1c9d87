"""The query DSL over a ``SearchIndex``, and the ``_search`` / ``_count`` request and response.

Queries (registered in ``core.QUERY_TYPES``; each is ``fn(body, ctx) -> Scores``): ``match_all``,
``match_none``, ``match``, ``match_phrase``, ``match_phrase_prefix``, ``multi_match`` (best_fields,
most_fields, phrase, phrase_prefix), ``term``, ``terms``, ``range``, ``exists``, ``ids``, ``prefix``,
``wildcard``, ``regexp``, ``bool``, ``constant_score``, ``dis_max``, ``boosting``, ``nested``.
Other modules add theirs (``knn``, ``neural``, ``neural_sparse``, ``hybrid``) to the same registry and
use ``evaluate`` / ``matching`` for their sub-queries and filters.

Scores follow Lucene: BM25 (``text``: see ``search.text``) for full-text and term queries on text,
keyword and boolean fields; constant ``boost`` for ``terms``, ``range``, ``exists``, ``ids``,
``prefix``, ``wildcard``, ``regexp``, ``match_all`` and terms on numbers/dates; ``bool`` sums its
``must`` and matching ``should`` clauses (``filter``/``must_not`` don't score; a bool with only
filters scores 0); clause sums are done in double and rounded to float as Lucene does.

``execute(index, body)`` runs a search body and gives a ``SearchResult``; ``render(...)`` turns it
into OpenSearch's response (``took``, ``timed_out``, ``_shards``, ``hits.total``, ``max_score``,
``hits[]`` with ``_index``, ``_id``, ``_score``, ``_source``, ``sort``, ``highlight``).
``count(index, body)`` serves ``_count``.

Not supported, refused with a clear 400: aggregations, ``fuzziness``, ``cross_fields``/``bool_prefix``
multi_match, terms lookup, ``inner_hits``, ``collapse``, ``rescore``, ``suggest``, scripts.
``nested`` evaluates its query on the flattened sub-fields of each document (a document matches
when its nested objects together match, not necessarily one object); ``score_mode`` ``none`` gives 0,
and the other modes are handed to field indexes that keep one value per object in
``ctx.extra["nested"]`` (the vector index takes the best chunk).

Layout of the package (the public names are all re-exported here; import them from
``modelnode.search.query``):

- ``base``: ``evaluate`` / ``matching`` / ``filter_context`` and the helpers the queries share;
- ``leaves``: the leaf queries and the per-field builders (``match_field``, ``term_field``...);
- ``compound``: ``bool``, ``constant_score``, ``dis_max``, ``boosting``, ``nested``;
- ``request``: ``parse_request`` / ``SearchRequest``, ``parse_sort`` / ``SortField``;
- ``sort``: sort values and ordering for field sorts;
- ``execution``: ``execute``, ``execute_scores``, ``count``, ``render``, ``render_scores``, ``search``.
"""

from __future__ import annotations

# Importing ``leaves`` and ``compound`` registers the query types in ``core.QUERY_TYPES`` (``compound``
# imports ``leaves`` first, which keeps the single module's registration order). ``compound`` exports
# nothing public: it is imported for that side effect only.
from modelnode.search.query import compound as _compound  # noqa: F401
from modelnode.search.query.base import calculate_msm, evaluate, filter_context, matching
from modelnode.search.query.execution import (
    Hit,
    PhaseResults,
    SearchResult,
    count,
    execute,
    execute_scores,
    json_score,
    render,
    render_scores,
    search,
)
from modelnode.search.query.leaves import match_field, phrase_field, term_field
from modelnode.search.query.leaves import phrase_prefix_field as phrase_prefix_field
from modelnode.search.query.request import DEFAULT_TRACK_TOTAL_HITS as DEFAULT_TRACK_TOTAL_HITS
from modelnode.search.query.request import (
    PASSTHROUGH_KEYS,
    SearchRequest,
    SortField,
    parse_request,
    parse_sort,
)

__all__ = [
    "PASSTHROUGH_KEYS",
    "Hit",
    "PhaseResults",
    "SearchRequest",
    "SearchResult",
    "SortField",
    "calculate_msm",
    "count",
    "evaluate",
    "execute",
    "execute_scores",
    "filter_context",
    "json_score",
    "match_field",
    "matching",
    "parse_request",
    "parse_sort",
    "phrase_field",
    "render",
    "render_scores",
    "search",
    "term_field",
]
