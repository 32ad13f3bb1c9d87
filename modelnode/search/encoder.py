"""How the search engine reaches models. ``services`` implements it on top of the deployed models;
tests can implement it with plain functions."""

from __future__ import annotations

from typing import Any, Protocol


class Encoder(Protocol):
    async def text_embedding(self, model_id: str, texts: list[str]) -> list[list[float]]:
        """One dense vector per text (the model's ``sentence_embedding``)."""
        ...

    async def sparse_encoding(self, model_id: str, texts: list[str]) -> list[dict[str, float]]:
        """One ``{token: weight}`` per text, from a SPARSE_ENCODING or SPARSE_TOKENIZE model."""
        ...

    async def similarity(self, model_id: str, query_text: str, texts: list[str]) -> list[float]:
        """A cross-encoder's raw score for each (query_text, text) pair."""
        ...

    async def highlight(self, model_id: str, question: str, context: str) -> list[dict[str, Any]]:
        """The semantic highlighter's ``[{text, position, start, end}]`` for one context."""
        ...

    def function_name(self, model_id: str) -> str:
        """The model's function (TEXT_EMBEDDING, SPARSE_ENCODING, ...); raises if unknown."""
        ...
