"""The ``text_chunking`` processor and its algorithms (fixed_token_length, fixed_char_length,
delimiter), with the tokenizers' offsets it chunks on."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from modelnode.errors import IllegalArgument, ModelNodeError
from modelnode.search import analysis
from modelnode.search.ingest.document import IngestDocument
from modelnode.search.ingest.errors import _state_error
from modelnode.search.ingest.fields import validate_map_values
from modelnode.search.ingest.processor import Common, Config, Processor, RunContext

WORD_TOKENIZERS = ("classic", "letter", "lowercase", "standard", "thai", "uax_url_email", "whitespace")
CHUNKER_ALGORITHMS = ("fixed_token_length", "delimiter", "fixed_char_length")
DISABLED_LIMIT = -1


def _param_int(params: dict[str, Any], key: str, default: int, *, positive: bool = False) -> int:
    if key not in params:
        value = default
    else:
        raw = params[key]
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = int(str(raw))
        except ValueError:
            raise IllegalArgument(f"Parameter [{key}] must be of java.lang.Integer type") from None
    if positive and value <= 0:
        raise IllegalArgument(f"Parameter [{key}] must be positive.")
    return value


def _param_float(params: dict[str, Any], key: str, default: float) -> float:
    if key not in params:
        return default
    raw = params[key]
    try:
        if isinstance(raw, bool):
            raise ValueError
        return float(str(raw))
    except ValueError:
        raise IllegalArgument(f"Parameter [{key}] must be of java.lang.Double type") from None


def _param_str(params: dict[str, Any], key: str, default: str) -> str:
    if key not in params:
        return default
    raw = params[key]
    if not isinstance(raw, str):
        raise IllegalArgument(f"Parameter [{key}] must be of java.lang.String type")
    if raw == "":
        raise IllegalArgument(f"Parameter [{key}] should not be empty.")
    return raw


def limit_hit(produced: int, limit: int, strings_left: int) -> bool:
    """Chunker.checkRunTimeMaxChunkLimit."""
    return limit != DISABLED_LIMIT and produced + strings_left >= limit


class Chunker:
    name = ""

    def chunk(self, text: str, limit: int, strings_left: int, ctx: RunContext) -> list[str]:
        raise NotImplementedError


class FixedTokenLengthChunker(Chunker):
    name = "fixed_token_length"

    def __init__(self, params: dict[str, Any]) -> None:
        self.token_limit = _param_int(params, "token_limit", 384, positive=True)
        self.overlap_rate = _param_float(params, "overlap_rate", 0.0)
        self.tokenizer = _param_str(params, "tokenizer", "standard")
        if not 0.0 <= self.overlap_rate <= 0.5:
            raise IllegalArgument("Parameter [overlap_rate] must be between 0.0 and 0.5")
        if self.tokenizer not in WORD_TOKENIZERS:
            raise IllegalArgument(
                f"Tokenizer [{self.tokenizer}] is not supported for [{self.name}] algorithm. "
                f"Supported tokenizers are [{', '.join(WORD_TOKENIZERS)}]"
            )

    def chunk(self, text: str, limit: int, strings_left: int, ctx: RunContext) -> list[str]:
        tokenize = ctx.tokenize or default_tokenize
        try:
            starts = [start for start, _end in tokenize(self.tokenizer, text)]
        except ModelNodeError as e:
            raise _state_error(f"analyzer {self.tokenizer} throws exception: {e.reason}") from None
        if len(starts) > ctx.max_token_count:
            raise _state_error(
                f"analyzer {self.tokenizer} throws exception: The number of tokens produced by calling _analyze has "
                f"exceeded the allowed maximum of [{ctx.max_token_count}]. This limit can be set by changing the "
                "[index.analyze.max_token_count] index-level setting."
            )
        out: list[str] = []
        overlap = math.floor(self.token_limit * self.overlap_rate)
        s = 0
        while s < len(starts):
            begin = 0 if s == 0 else starts[s]
            if limit_hit(len(out), limit, strings_left):
                out.append(text[begin:])
                break
            if s + self.token_limit >= len(starts):
                out.append(text[begin:])
                break
            out.append(text[begin : starts[s + self.token_limit]])
            s += self.token_limit - overlap
        return out


class FixedCharLengthChunker(Chunker):
    name = "fixed_char_length"

    def __init__(self, params: dict[str, Any]) -> None:
        self.char_limit = _param_int(params, "char_limit", 2048, positive=True)
        self.overlap_rate = _param_float(params, "overlap_rate", 0.0)
        if not 0.0 <= self.overlap_rate <= 0.5:
            raise IllegalArgument(f"Parameter [overlap_rate] must be between 0.0 and 0.5, but was {self.overlap_rate}")

    def chunk(self, text: str, limit: int, strings_left: int, ctx: RunContext) -> list[str]:
        if self.char_limit >= len(text):
            return [text]
        out: list[str] = []
        overlap = math.floor(self.char_limit * self.overlap_rate)
        step = self.char_limit - overlap
        start = 0
        while start + overlap < len(text):
            if limit_hit(len(out), limit, strings_left):
                out.append(text[start:])
                break
            out.append(text[start : min(start + self.char_limit, len(text))])
            start += step
        return out


class DelimiterChunker(Chunker):
    name = "delimiter"

    def __init__(self, params: dict[str, Any]) -> None:
        self.delimiter = _param_str(params, "delimiter", "\n\n")

    def chunk(self, text: str, limit: int, strings_left: int, ctx: RunContext) -> list[str]:
        out: list[str] = []
        start = 0
        nxt = text.find(self.delimiter)
        while nxt != -1:
            if limit_hit(len(out), limit, strings_left):
                break
            end = nxt + len(self.delimiter)
            out.append(text[start:end])
            start = end
            nxt = text.find(self.delimiter, start)
        if start < len(text):
            out.append(text[start:])
        return out


_CHUNKERS: dict[str, Callable[[dict[str, Any]], Chunker]] = {
    "fixed_token_length": FixedTokenLengthChunker,
    "delimiter": DelimiterChunker,
    "fixed_char_length": FixedCharLengthChunker,
}


class TextChunkingProcessor(Processor):
    type = "text_chunking"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.field_map = cfg.obj("field_map")
        algorithm = cfg.obj("algorithm")
        self.ignore_missing = cfg.boolean("ignore_missing", False)
        if len(algorithm) > 1:
            raise IllegalArgument(
                "Unable to create text_chunking processor as [algorithm] contains multiple algorithms"
            )
        if not algorithm:
            name, params = "fixed_token_length", {}
        else:
            name, params = next(iter(algorithm.items()))
            if not isinstance(params, dict):
                raise IllegalArgument(
                    f"Unable to create text_chunking processor as parameters for [{name}] algorithm must be an object"
                )
        if name not in _CHUNKERS:
            raise IllegalArgument(
                f"Chunking algorithm [{name}] is not supported. Supported chunking algorithms are "
                f"[{', '.join(CHUNKER_ALGORITHMS)}]"
            )
        self.max_chunk_limit = _param_int(params, "max_chunk_limit", 100)
        if self.max_chunk_limit <= 0 and self.max_chunk_limit != DISABLED_LIMIT:
            raise IllegalArgument("Parameter [max_chunk_limit] must be positive or -1 to disable this parameter")
        known = {
            "fixed_token_length": {"token_limit", "overlap_rate", "tokenizer"},
            "fixed_char_length": {"char_limit", "overlap_rate"},
            "delimiter": {"delimiter"},
        }[name] | {"max_chunk_limit"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise IllegalArgument(f"Unsupported parameters {unknown} for [{name}] algorithm")
        self.chunker = _CHUNKERS[name](params)
        self.algorithm = name

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        validate_map_values(self.field_map, doc.source, allow_empty=True)
        state = {"limit": self.max_chunk_limit, "left": self._count(doc.source, self.field_map)}
        self._chunk_map(doc.source, self.field_map, state, ctx)

    def _count(self, source: dict[str, Any], field_map: dict[str, Any]) -> int:
        n = 0
        for key, target in field_map.items():
            value = source.get(key)
            if isinstance(target, dict):
                items = value if isinstance(value, list) else [value]
                n += sum(self._count(v, target) for v in items if isinstance(v, dict))
            elif isinstance(value, str):
                n += 1 if value else 0
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                n += sum(1 for v in value if v)
        return n

    def _chunk_map(
        self, source: dict[str, Any], field_map: dict[str, Any], state: dict[str, int], ctx: RunContext
    ) -> None:
        for key, target in field_map.items():
            value = source.get(key)
            if isinstance(target, dict):
                items = value if isinstance(value, list) else [value]
                for v in items:
                    if isinstance(v, dict):
                        self._chunk_map(v, target, state, ctx)
                continue
            if self.ignore_missing and value is None:
                continue
            out: list[str] = []
            if isinstance(value, str):
                if value.strip():
                    out = self._chunk_string(value, state, ctx)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                for v in value:
                    out.extend(self._chunk_string(v, state, ctx))
            source[str(target)] = out

    def _chunk_string(self, text: str, state: dict[str, int], ctx: RunContext) -> list[str]:
        if not text:
            return []
        chunks = self.chunker.chunk(text, state["limit"], state["left"], ctx)
        state["left"] -= 1
        if state["limit"] != DISABLED_LIMIT:
            state["limit"] -= len(chunks)
        return chunks


# -- the tokenizers' offsets ------------------------------------------------------------------
# Chunking needs only token start offsets: ``standard`` (and the tokenizers that split words the
# same way for this purpose: classic, uax_url_email, thai) is the lexical core's StandardTokenizer;
# letter/lowercase split on letters (``simple``); whitespace on whitespace.
_TOKENIZER_ANALYZERS = {"whitespace": "whitespace", "letter": "simple", "lowercase": "simple"}


def default_tokenize(tokenizer: str, text: str) -> list[tuple[int, int]]:
    if tokenizer in _TOKENIZER_ANALYZERS:
        tokens = analysis.analyze(text, _TOKENIZER_ANALYZERS[tokenizer])
    else:
        tokens = analysis.standard_tokens(text, lowercase=False)
    return [(t.start, t.end) for t in tokens]
