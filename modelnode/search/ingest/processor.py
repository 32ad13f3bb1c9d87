"""What every processor shares: ``Config`` (typed reads of a processor's config map, as
ConfigurationUtils), ``RunContext``, the ``Processor`` base class and its ``Common`` options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelnode.errors import ModelNodeError, ParseError
from modelnode.search.encoder import Encoder
from modelnode.search.ingest.condition import Condition
from modelnode.search.ingest.document import _MISSING, IngestDocument
from modelnode.search.ingest.errors import config_error, java_type

DEFAULT_MAX_TOKEN_COUNT = 10_000  # index.analyze.max_token_count


# ------------------------------------------------------------------------------------------------
# reading processor configuration (ConfigurationUtils)
# ------------------------------------------------------------------------------------------------
class Config:
    """A processor's config map: typed reads that pop keys; leftovers are an error."""

    def __init__(self, processor_type: str, raw: dict[str, Any]) -> None:
        self.type = processor_type
        self.raw = dict(raw)

    def _err(self, prop: str, message: str) -> ParseError:
        return config_error(self.type, prop, message)

    def has(self, key: str) -> bool:
        return key in self.raw

    def string(self, key: str, default: Any = _MISSING) -> Any:
        v = self.raw.pop(key, None)
        if v is None:
            if default is _MISSING:
                raise self._err(key, "required property is missing")
            return default
        if not isinstance(v, str):
            raise self._err(key, f"property isn't a string, but of type [{java_type(v)}]")
        return v

    def obj(self, key: str, default: Any = _MISSING) -> Any:
        v = self.raw.pop(key, None)
        if v is None:
            if default is _MISSING:
                raise self._err(key, "required property is missing")
            return default
        if not isinstance(v, dict):
            raise self._err(key, f"property isn't a map, but of type [{java_type(v)}]")
        return v

    def boolean(self, key: str, default: bool) -> bool:
        v = self.raw.pop(key, None)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        if v in ("true", "false"):
            return v == "true"
        raise self._err(key, f"property isn't a boolean, but of type [{java_type(v)}]")

    def integer(self, key: str, default: int) -> int:
        v = self.raw.pop(key, None)
        if v is None:
            return default
        if isinstance(v, bool):
            raise self._err(key, f"property cannot be converted to an int [{v}]")
        try:
            return int(str(v))
        except ValueError:
            raise self._err(key, f"property cannot be converted to an int [{v}]") from None

    def number(self, key: str, default: Any = _MISSING) -> Any:
        v = self.raw.pop(key, None)
        if v is None:
            if default is _MISSING:
                raise self._err(key, "required property is missing")
            return default
        if isinstance(v, bool):
            raise self._err(key, f"property cannot be converted to a double [{v}]")
        try:
            return float(str(v))
        except ValueError:
            raise self._err(key, f"property cannot be converted to a double [{v}]") from None

    def any(self, key: str, default: Any = _MISSING) -> Any:
        if key not in self.raw or self.raw[key] is None:
            self.raw.pop(key, None)
            if default is _MISSING:
                raise self._err(key, "required property is missing")
            return default
        return self.raw.pop(key)

    def done(self) -> None:
        if self.raw:
            keys = ", ".join(self.raw)
            raise ParseError(
                f"processor [{self.type}] doesn't support one or more provided configuration parameters [{keys}]"
            )


@dataclass
class RunContext:
    encoder: Encoder | None
    verbose: bool = False
    max_token_count: int = DEFAULT_MAX_TOKEN_COUNT
    tokenize: Callable[[str, str], list[tuple[int, int]]] | None = None  # (tokenizer, text) -> offsets


class Processor:
    type = ""

    def __init__(self, common: Common) -> None:
        self.tag = common.tag
        self.description = common.description
        self.condition = common.condition
        self.ignore_failure = common.ignore_failure
        self.on_failure = common.on_failure

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        raise NotImplementedError

    async def run(self, docs: list[IngestDocument], ctx: RunContext) -> list[ModelNodeError | None]:
        """Per-document by default; the inference processors override this to batch."""
        errors: list[ModelNodeError | None] = []
        for doc in docs:
            try:
                self.execute(doc, ctx)
                errors.append(None)
            except ModelNodeError as e:
                errors.append(e)
        return errors


@dataclass
class Common:
    tag: str | None
    description: str | None
    condition: Condition | None
    ignore_failure: bool
    on_failure: list[Processor] | None
