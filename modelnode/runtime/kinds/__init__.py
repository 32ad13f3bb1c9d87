"""Model kinds: what a function name means, as pre (tokenize) -> core (backend) -> post.

A kind is what the batcher drives. ``validate`` and ``cost`` run on the caller's side, before a
request joins a shared batch, so a bad request is refused alone instead of failing its neighbours;
``run`` runs many requests as one batch on the model's worker thread.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from modelnode.runtime.api import TextDocsInput
from modelnode.runtime.tensors import ModelTensors

In = TypeVar("In", contravariant=True)


class Kind(Protocol, Generic[In]):
    function_name: str

    def validate(self, inp: In) -> None: ...

    def cost(self, inp: In) -> int:
        """Estimated tokens, for the batcher's budget; cheap (no tokenization)."""
        ...

    def batch_key(self, inp: In) -> Hashable:
        """Only requests with equal keys share a batch."""
        ...

    def run(self, inputs: list[In]) -> list[list[ModelTensors]]:
        """Blocking; one result list (one ``ModelTensors`` per document) per input, in order."""
        ...

    def close(self) -> None: ...


def warmup_docs(model_config: Mapping[str, Any]) -> TextDocsInput:
    """The warm-up input of a text-docs kind: ML Commons warms up with a full-length input when it
    knows the length (``model_max_length``)."""
    max_length = model_config.get("model_max_length")
    return TextDocsInput(("sentence " * int(max_length) if max_length else "warm up sentence",))
