"""Ingest pipelines: parse and validate a pipeline body, run it over documents.

A pipeline is ``{"description", "processors": [{<type>: {...}}, ...], "on_failure": [...]}``.
Processors run *across* the documents of one request: each processor sees every document still
alive before the next processor starts, so the inference processors (``text_embedding``,
``sparse_encoding``) can send a whole bulk request's texts to the model in ``batch_size``-document
batches (texts sorted by length inside a batch, results put back in order; batches run
concurrently, so the runtime's batcher merges them further). A processor failure fails that one
document; the others go on.

Processors: ``text_embedding``, ``sparse_encoding`` (prune_type / prune_ratio as neural-search's
PruneUtils, in float32), ``text_chunking`` (fixed_token_length on the standard tokenizer's offsets,
fixed_char_length, delimiter; ``max_chunk_limit`` counted across the document), and the cheap core
ones ``set``, ``remove``, ``rename``, ``lowercase``, ``uppercase``, ``append``, ``fail``, ``drop``.
Common options: ``tag``, ``description``, ``if`` (a painless-free subset: see ``Condition``),
``ignore_failure``, ``on_failure``.

field_map semantics follow neural-search's InferenceProcessor exactly (dot paths on the input are
the nested-map form; output written next to the input; a list of strings gives
``[{"knn": vec}, ...]`` / ``[{"sparse_encoding": map}, ...]``; missing or null input: no output).
Vectors and weights come out as float32 (Java's ``Float``), so ``_source`` prints as OpenSearch's.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as _dt
import heapq
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument, ModelNodeError, ParseError
from modelnode.search import analysis
from modelnode.search.encoder import Encoder

# How many model calls one processor keeps in flight for one request (each of batch_size docs);
# the runtime batcher merges concurrent calls, its queue refuses beyond 1024 waiting requests.
MAX_IN_FLIGHT = 16
DEFAULT_MAX_TOKEN_COUNT = 10_000  # index.analyze.max_token_count
_MISSING = object()


# ------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------
def config_error(processor_type: str | None, prop: str | None, message: str) -> ParseError:
    """OpenSearch's ConfigurationUtils.newConfigurationException: a parse_exception."""
    return ParseError(f"[{prop}] {message}" if prop else message)


class ScriptError(ModelNodeError):
    status = 400
    error_type = "script_exception"


class FailProcessorError(ModelNodeError):
    status = 500
    error_type = "fail_processor_exception"


class IngestProcessorError(ModelNodeError):
    """A processor's runtime failure (Java: IllegalArgumentException / IllegalStateException ...)."""

    status = 400
    error_type = "illegal_argument_exception"


def _state_error(reason: str) -> ModelNodeError:
    return ModelNodeError(reason, status=500, error_type="illegal_state_exception")


_JAVA_TYPES = {
    str: "java.lang.String",
    int: "java.lang.Integer",
    float: "java.lang.Double",
    bool: "java.lang.Boolean",
    list: "java.util.ArrayList",
    dict: "java.util.LinkedHashMap",
}


def java_type(value: Any) -> str:
    return _JAVA_TYPES.get(type(value), type(value).__name__)


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


# ------------------------------------------------------------------------------------------------
# documents
# ------------------------------------------------------------------------------------------------
def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class IngestDocument:
    """One document going through a pipeline. ``existing`` is the stored ``_source`` of the same id
    (for ``skip_existing``), None when there is none or in ``_simulate``."""

    index: str
    id: str | None
    source: dict[str, Any]
    existing: dict[str, Any] | None = None
    ingest: dict[str, Any] = field(default_factory=dict)  # _ingest metadata (timestamp, on_failure_*)
    error: ModelNodeError | None = None
    dropped: bool = False
    trace: list[dict[str, Any]] | None = None  # verbose _simulate: one entry per processor run
    failed_in: tuple[str, str | None] | None = None  # (processor type, tag) that set ``error``

    @property
    def alive(self) -> bool:
        return self.error is None and not self.dropped

    def snapshot(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"_index": self.index}
        if self.id is not None:
            doc["_id"] = self.id
        doc["_source"] = copy.deepcopy(self.source)
        doc["_ingest"] = dict(self.ingest)
        return doc

    # -- IngestDocument's field access (dotted paths, list indices, _source./_ingest. prefixes) --
    def _root(self, path: str) -> tuple[dict[str, Any], str]:
        if path.startswith("_ingest."):
            return self.ingest, path[len("_ingest.") :]
        if path.startswith("_source."):
            return self.source, path[len("_source.") :]
        return self.source, path

    def get(self, path: str, default: Any = _MISSING) -> Any:
        if path == "_index":
            return self.index
        if path == "_id":
            return self.id if self.id is not None else default
        root, rel = self._root(path)
        node: Any = root
        for part in rel.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                if default is _MISSING:
                    raise IngestProcessorError(f"field [{part}] not present as part of path [{path}]")
                return default
        return node

    def has(self, path: str) -> bool:
        return self.get(path, _MISSING_SENTINEL) is not _MISSING_SENTINEL

    def set(self, path: str, value: Any, *, append: bool = False) -> None:
        if path == "_id":
            self.id = None if value is None else str(value)
            return
        if path == "_index":
            raise IngestProcessorError("changing [_index] in an ingest pipeline is not supported by modelnode")
        root, rel = self._root(path)
        parts = rel.split(".")
        node: Any = root
        for part in parts[:-1]:
            if isinstance(node, dict):
                nxt = node.get(part)
                if nxt is None:
                    nxt = node[part] = {}
                node = nxt
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise IngestProcessorError(
                    f"cannot set [{part}] with parent object of type [{java_type(node)}] as part of path [{path}]"
                )
        last = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise IngestProcessorError(
                    f"[{last}] is not an integer, cannot be used as an index as part of path [{path}]"
                )
            node[int(last)] = value
            return
        if not isinstance(node, dict):
            raise IngestProcessorError(
                f"cannot set [{last}] with parent object of type [{java_type(node)}] as part of path [{path}]"
            )
        if append and last in node:
            current = node[last]
            if not isinstance(current, list):
                current = node[last] = [current]
            values = value if isinstance(value, list) else [value]
            current.extend(values)
        else:
            node[last] = value

    def remove(self, path: str) -> None:
        root, rel = self._root(path)
        parts = rel.split(".")
        node: Any = root
        for part in parts[:-1]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise IngestProcessorError(f"field [{part}] not present as part of path [{path}]")
        last = parts[-1]
        if isinstance(node, dict) and last in node:
            del node[last]
        elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
            del node[int(last)]
        else:
            raise IngestProcessorError(f"field [{last}] not present as part of path [{path}]")


_MISSING_SENTINEL = object()

_TEMPLATE = re.compile(r"\{\{\{?\s*([^}\s]+)\s*\}?\}\}")


def render_template(template: str, doc: IngestDocument) -> str:
    """The mustache subset ingest uses: ``{{field}}``, ``{{{field}}}``, ``{{_ingest.timestamp}}``."""

    def sub(m: re.Match[str]) -> str:
        v = doc.get(m.group(1), None)
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return v if isinstance(v, str) else str(v)

    return _TEMPLATE.sub(sub, template)


def _template_value(value: Any, doc: IngestDocument) -> Any:
    if isinstance(value, str):
        return render_template(value, doc)
    if isinstance(value, list):
        return [_template_value(v, doc) for v in value]
    if isinstance(value, dict):
        return {render_template(k, doc): _template_value(v, doc) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------------------
# the `if` condition: a painless-free subset
# ------------------------------------------------------------------------------------------------
_COND_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<op>\?\.|==|!=|<=|>=|&&|\|\||[<>!().\[\],])|(?P<id>[A-Za-z_][A-Za-z0-9_]*))"
)
_METHODS: dict[str, Callable[..., Any]] = {
    "contains": lambda v, x: v is not None and x in v,
    "containsKey": lambda v, x: isinstance(v, dict) and x in v,
    "startsWith": lambda v, x: isinstance(v, str) and v.startswith(x),
    "endsWith": lambda v, x: isinstance(v, str) and v.endswith(x),
    "isEmpty": lambda v: v is not None and len(v) == 0,
    "size": lambda v: None if v is None else len(v),
    "length": lambda v: None if v is None else len(v),
    "equals": lambda v, x: v == x,
    "toLowerCase": lambda v: v.lower() if isinstance(v, str) else None,
    "toUpperCase": lambda v: v.upper() if isinstance(v, str) else None,
    "trim": lambda v: v.strip() if isinstance(v, str) else None,
}


class Condition:
    """A processor's ``if``: boolean expressions over ``ctx`` without a painless engine.

    Supported: ``ctx.a.b`` / ``ctx?.a?.b`` / ``ctx['a']`` (null-safe), string/number/boolean/null
    literals, ``== != < <= > >=``, ``&& || !``, parentheses and the methods ``contains``,
    ``containsKey``, ``startsWith``, ``endsWith``, ``isEmpty``, ``size``, ``length``, ``equals``,
    ``toLowerCase``, ``toUpperCase``, ``trim``. Anything else is refused when the pipeline is put,
    never silently ignored."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = self._lex(source)
        self.pos = 0
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise self._unsupported(f"unexpected [{self.tokens[self.pos][1]}]")

    def _unsupported(self, detail: str) -> ScriptError:
        return ScriptError(
            f"compile error: the condition [{self.source}] is not supported ({detail}); modelnode evaluates a "
            "painless-free subset: ctx field paths, literals, comparisons, && || !, and simple methods "
            "(contains, containsKey, startsWith, endsWith, isEmpty, size, equals)"
        )

    def _lex(self, source: str) -> list[tuple[str, str]]:
        out, pos = [], 0
        source = source.strip()
        while pos < len(source):
            m = _COND_TOKEN.match(source, pos)
            if m is None or m.end() == pos:
                raise self._unsupported(f"cannot read [{source[pos:]}]")
            kind = m.lastgroup or "op"
            out.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(source) and source[pos].isspace():
                pos += 1
        return out

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise self._unsupported("unexpected end")
        tok = self.tokens[self.pos]
        if expected is not None and tok[1] != expected:
            raise self._unsupported(f"expected [{expected}] but found [{tok[1]}]")
        self.pos += 1
        return tok

    def _or(self) -> Any:
        node = self._and()
        while self._peek() == "||":
            self._take()
            node = ("or", node, self._and())
        return node

    def _and(self) -> Any:
        node = self._not()
        while self._peek() == "&&":
            self._take()
            node = ("and", node, self._not())
        return node

    def _not(self) -> Any:
        if self._peek() == "!":
            self._take()
            return ("not", self._not())
        return self._cmp()

    def _cmp(self) -> Any:
        left = self._primary()
        if self._peek() in ("==", "!=", "<", "<=", ">", ">="):
            op = self._take()[1]
            return ("cmp", op, left, self._primary())
        return left

    def _primary(self) -> Any:
        kind, text = self._take()
        if text == "(" and kind == "op":
            node = self._or()
            self._take(")")
            return node
        if kind == "num":
            return ("lit", float(text) if "." in text else int(text))
        if kind == "str":
            return ("lit", bytes(text[1:-1], "utf-8").decode("unicode_escape"))
        if kind == "id" and text in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[text])
        if kind == "id" and text == "ctx":
            node: Any = ("ctx",)
            while self._peek() in (".", "?.", "["):
                sep = self._take()[1]
                if sep == "[":
                    k, key = self._take()
                    if k not in ("str", "num"):
                        raise self._unsupported("only literal keys go inside [...]")
                    self._take("]")
                    node = ("get", node, key[1:-1] if k == "str" else int(key))
                    continue
                _, name = self._take()
                if self._peek() == "(":
                    self._take()
                    args = []
                    while self._peek() != ")":
                        args.append(self._or())
                        if self._peek() == ",":
                            self._take()
                    self._take(")")
                    if name not in _METHODS:
                        raise self._unsupported(f"method [{name}]")
                    node = ("call", name, node, args)
                else:
                    node = ("get", node, name)
            return node
        raise self._unsupported(f"unexpected [{text}]")

    def evaluate(self, doc: IngestDocument) -> bool:
        ctx = dict(doc.source)
        ctx["_index"] = doc.index
        ctx["_id"] = doc.id
        ctx["_ingest"] = doc.ingest
        result = self._eval(self.tree, ctx)
        if not isinstance(result, bool):
            raise ScriptError(f"runtime error: condition [{self.source}] did not evaluate to a boolean")
        return result

    def _eval(self, node: Any, ctx: dict[str, Any]) -> Any:
        op = node[0]
        if op == "lit":
            return node[1]
        if op == "ctx":
            return ctx
        if op == "get":
            base = self._eval(node[1], ctx)
            key = node[2]
            if isinstance(base, dict):
                return base.get(key)
            if isinstance(base, list) and isinstance(key, int) and 0 <= key < len(base):
                return base[key]
            return None
        if op == "call":
            base = self._eval(node[2], ctx)
            args = [self._eval(a, ctx) for a in node[3]]
            try:
                return _METHODS[node[1]](base, *args)
            except TypeError:
                return None
        if op == "not":
            return not self._truth(self._eval(node[1], ctx))
        if op == "and":
            return self._truth(self._eval(node[1], ctx)) and self._truth(self._eval(node[2], ctx))
        if op == "or":
            return self._truth(self._eval(node[1], ctx)) or self._truth(self._eval(node[2], ctx))
        if op == "cmp":
            a, b = self._eval(node[2], ctx), self._eval(node[3], ctx)
            if node[1] == "==":
                return a == b
            if node[1] == "!=":
                return a != b
            if a is None or b is None:
                return False
            try:
                return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node[1]]
            except TypeError:
                return False
        raise AssertionError(node)

    def _truth(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ScriptError(f"runtime error: [{self.source}]: a non-boolean value used as a condition")
        return value


# ------------------------------------------------------------------------------------------------
# processors
# ------------------------------------------------------------------------------------------------
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


# -- core processors -----------------------------------------------------------------------------
class SetProcessor(Processor):
    type = "set"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.field = cfg.string("field")
        self.copy_from = cfg.string("copy_from", None)
        if self.copy_from is None:
            self.value = cfg.any("value")
        elif cfg.has("value"):
            raise config_error(self.type, "copy_from", "cannot set both `copy_from` and `value` in the same processor")
        self.override = cfg.boolean("override", True)
        self.ignore_empty_value = cfg.boolean("ignore_empty_value", False)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        path = render_template(self.field, doc)
        if self.copy_from is not None:
            value = copy.deepcopy(doc.get(self.copy_from, None))
            if value is None:
                raise IngestProcessorError(f"source field [{self.copy_from}] doesn't exist")
        else:
            value = _template_value(copy.deepcopy(self.value), doc)
        if self.ignore_empty_value and (value is None or value == ""):
            return
        if not self.override and doc.get(path, None) is not None:
            return
        doc.set(path, value)


class RemoveProcessor(Processor):
    type = "remove"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        raw = cfg.any("field")
        self.fields = raw if isinstance(raw, list) else [raw]
        if not self.fields or not all(isinstance(f, str) for f in self.fields):
            raise config_error(self.type, "field", "property isn't a string or a list of strings")
        self.ignore_missing = cfg.boolean("ignore_missing", False)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        for f in self.fields:
            path = render_template(f, doc)
            if path in ("_index", "_id", "_version", "_routing"):
                raise IngestProcessorError(f"cannot remove metadata field [{path}]")
            if self.ignore_missing and not doc.has(path):
                continue
            doc.remove(path)


class RenameProcessor(Processor):
    type = "rename"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.field = cfg.string("field")
        self.target = cfg.string("target_field")
        self.ignore_missing = cfg.boolean("ignore_missing", False)
        self.override_target = cfg.boolean("override_target", False)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        path, target = render_template(self.field, doc), render_template(self.target, doc)
        if not doc.has(path):
            if self.ignore_missing:
                return
            raise IngestProcessorError(f"field [{path}] doesn't exist")
        if doc.has(target) and not self.override_target:
            raise IngestProcessorError(f"field [{target}] already exists")
        value = doc.get(path)
        doc.remove(path)
        try:
            doc.set(target, value)
        except ModelNodeError:
            doc.set(path, value)  # put it back, as RenameProcessor does
            raise


class _StringProcessor(Processor):
    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.field = cfg.string("field")
        self.target = cfg.string("target_field", self.field)
        self.ignore_missing = cfg.boolean("ignore_missing", False)

    def convert(self, value: str) -> str:
        raise NotImplementedError

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        value = doc.get(self.field, None if self.ignore_missing else _MISSING)
        if value is None:
            if self.ignore_missing:
                return
            raise IngestProcessorError(f"field [{self.field}] is null, cannot process it.")
        if isinstance(value, list):
            out = []
            for v in value:
                if not isinstance(v, str):
                    raise IngestProcessorError(
                        f"value [{v}] of type [{java_type(v)}] in list field [{self.field}] cannot be cast to "
                        "[java.lang.String]"
                    )
                out.append(self.convert(v))
            doc.set(self.target, out)
            return
        if not isinstance(value, str):
            raise IngestProcessorError(
                f"field [{self.field}] of type [{java_type(value)}] cannot be cast to [java.lang.String]"
            )
        doc.set(self.target, self.convert(value))


class LowercaseProcessor(_StringProcessor):
    type = "lowercase"

    def convert(self, value: str) -> str:
        return value.lower()


class UppercaseProcessor(_StringProcessor):
    type = "uppercase"

    def convert(self, value: str) -> str:
        return value.upper()


class AppendProcessor(Processor):
    type = "append"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.field = cfg.string("field")
        self.value = cfg.any("value")
        self.allow_duplicates = cfg.boolean("allow_duplicates", True)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        path = render_template(self.field, doc)
        values = _template_value(copy.deepcopy(self.value), doc)
        values = values if isinstance(values, list) else [values]
        if not self.allow_duplicates:
            current = doc.get(path, None)
            existing = current if isinstance(current, list) else ([] if current is None else [current])
            values = [v for i, v in enumerate(values) if v not in existing and v not in values[:i]]
            if not values and current is not None:
                return
        doc.set(path, values, append=True)


class FailProcessor(Processor):
    type = "fail"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.message = cfg.string("message")

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        raise FailProcessorError(render_template(self.message, doc))


class DropProcessor(Processor):
    type = "drop"

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)

    def execute(self, doc: IngestDocument, ctx: RunContext) -> None:
        doc.dropped = True


# -- field_map traversal (neural-search InferenceProcessor) -----------------------------------
def _split_nested_key(key: str, target: Any) -> tuple[str, Any]:
    """processNestedKey: ``"a.b.c": t`` -> ``("a", {"b.c": t})``."""
    dot = key.find(".")
    if dot != -1:
        return key[:dot], {key[dot + 1 :]: target}
    return key, target


def _build_nested(parent: str, target: Any, source: dict[str, Any] | None, tree: dict[str, Any]) -> None:
    if target is None or source is None:
        return
    if isinstance(target, dict):
        nxt: dict[str, Any] = {}
        value = source.get(parent)
        if isinstance(value, dict):
            for k, v in target.items():
                k2, v2 = _split_nested_key(k, v)
                _build_nested(k2, v2, value, nxt)
        elif isinstance(value, list):
            for k, v in target.items():
                strings = [x.get(k) if isinstance(x, dict) else None for x in value]
                _build_nested(k, v, {k: strings}, nxt)
        existing = tree.get(parent)
        if isinstance(existing, dict):
            existing.update(nxt)
        else:
            tree[parent] = nxt
    else:
        tree[str(target)] = source.get(parent)


def build_process_map(field_map: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """buildMapWithTargetKeys: leaf values are the input texts, keyed by output names."""
    out: dict[str, Any] = {}
    for key, target in field_map.items():
        original, target2 = _split_nested_key(key, target)
        if isinstance(target2, dict):
            tree: dict[str, Any] = {}
            _build_nested(original, target2, source, tree)
            out[original] = tree.get(original)
        else:
            out[str(target2)] = source.get(original)
    return out


def _texts_of(value: Any, texts: list[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _texts_of(v, texts)
    elif isinstance(value, list):
        texts.extend(str(v) for v in value if v is not None)
    elif value is not None:
        texts.append(str(value))


def inference_texts(process_map: dict[str, Any]) -> list[str]:
    """createInferenceList: every input text, in the order results are written back."""
    texts: list[str] = []
    for value in process_map.values():
        if value is None:
            continue
        if isinstance(value, list):
            texts.extend(str(v) for v in value)
        elif isinstance(value, dict):
            _texts_of(value, texts)
        else:
            texts.append(str(value))
    return texts


def _write_nested(key: str, value: Any, results: Iterator[Any], source: dict[str, Any] | None, list_key: str) -> None:
    if key is None or source is None or value is None:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            here = source.get(key)
            if isinstance(here, list):
                inputs = iter(v) if isinstance(v, list) else iter(())
                for element in here:
                    nxt = next(inputs, None)
                    if nxt is not None and isinstance(element, dict):
                        element[k] = next(results)
            else:
                k2, v2 = _split_nested_key(k, v)
                if here is None:
                    here = source[key] = {}
                if isinstance(here, dict):
                    _write_nested(k2, v2, results, here, list_key)
    elif isinstance(value, list):
        source[key] = [{list_key: next(results)} for _ in value]
    else:
        source[key] = next(results)


def write_results(process_map: dict[str, Any], results: Sequence[Any], source: dict[str, Any], list_key: str) -> None:
    """buildNLPResult + setFieldValue: put each result where its input came from."""
    it = iter(results)
    for key, value in process_map.items():
        k, v = _split_nested_key(key, value)
        if isinstance(v, str) or (v is not None and not isinstance(v, (list, dict))):
            source[k] = next(it)
        elif isinstance(v, list):
            source[k] = [{list_key: next(it)} for _ in v]
        elif isinstance(v, dict):
            _write_nested(k, v, it, source, list_key)


def _read_nested(key: str, value: Any, source: Any, list_key: str, out: list[Any]) -> None:
    """The mirror of ``_write_nested`` over a stored document (for skip_existing)."""
    if value is None:
        return
    if not isinstance(source, dict):
        out.append(None)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            here = source.get(key)
            if isinstance(here, list):
                inputs = v if isinstance(v, list) else []
                for element, text in zip(here, inputs, strict=False):
                    if text is not None:
                        out.append(element.get(k) if isinstance(element, dict) else None)
            else:
                k2, v2 = _split_nested_key(k, v)
                _read_nested(k2, v2, here, list_key, out)
    elif isinstance(value, list):
        stored = source.get(key)
        for i in range(len(value)):
            item = stored[i] if isinstance(stored, list) and i < len(stored) else None
            out.append(item.get(list_key) if isinstance(item, dict) else None)
    else:
        out.append(source.get(key))


def read_results(process_map: dict[str, Any], source: dict[str, Any], list_key: str) -> list[Any]:
    out: list[Any] = []
    for key, value in process_map.items():
        k, v = _split_nested_key(key, value)
        if isinstance(v, dict):
            _read_nested(k, v, source, list_key, out)
        elif isinstance(v, list):
            stored = source.get(k)
            for i in range(len(v)):
                item = stored[i] if isinstance(stored, list) and i < len(stored) else None
                out.append(item.get(list_key) if isinstance(item, dict) else None)
        elif v is not None:
            out.append(source.get(k))
    return out


def validate_map_values(
    field_map: dict[str, Any], source: dict[str, Any], *, allow_empty: bool, depth: int = 1
) -> None:
    """ProcessorDocumentUtils.validateMapTypeValue (max depth 20, index.mapping.depth.limit)."""
    if depth > 20:
        raise IngestProcessorError("map type field [field_map] reaches max depth limit, cannot process it")
    for key, nxt_map in field_map.items():
        value = source.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            _validate_list(key, value, field_map, allow_empty, depth + 1)
        elif isinstance(value, dict):
            if not isinstance(nxt_map, dict):
                raise IngestProcessorError(
                    f"[{key}] configuration doesn't match actual value type, configuration type is: "
                    f"{java_type(nxt_map)}, actual value type is: {java_type(value)}"
                )
            validate_map_values(nxt_map, value, allow_empty=allow_empty, depth=depth + 1)
        elif not isinstance(value, str):
            raise IngestProcessorError(f"map type field [{key}] is neither string nor nested type, cannot process it")
        elif not allow_empty and not value.strip():
            raise IngestProcessorError(f"map type field [{key}] has empty string value, cannot process it")


def _validate_list(key: str, values: list[Any], field_map: dict[str, Any], allow_empty: bool, depth: int) -> None:
    if depth > 20:
        raise IngestProcessorError(f"map type field [{key}] reaches max depth limit, cannot process it")
    for element in values:
        if element is None:
            raise IngestProcessorError(f"list type field [{key}] has null, cannot process it")
        if isinstance(element, list):
            raise IngestProcessorError(f"list type field [{key}] is nested list type, cannot process it")
        if isinstance(element, dict):
            nxt = field_map.get(key)
            if not isinstance(nxt, dict):
                raise IngestProcessorError(
                    f"[{key}] configuration doesn't match actual value type, configuration type is: "
                    f"{java_type(nxt)}, actual value type is: {java_type(element)}"
                )
            validate_map_values(nxt, element, allow_empty=allow_empty, depth=depth + 1)
        elif not isinstance(element, str):
            raise IngestProcessorError(f"list type field [{key}] has non string value, cannot process it")
        elif not allow_empty and not element.strip():
            raise IngestProcessorError(f"list type field [{key}] has empty string, cannot process it")


def _normalize_field_map(field_map: dict[str, Any]) -> dict[str, Any]:
    """Dot paths on the input side become the nested-map form (for validation)."""
    out: dict[str, Any] = {}
    for key, target in field_map.items():
        k, v = _split_nested_key(key, target)
        if isinstance(v, dict):
            v = _normalize_field_map(v)
            if isinstance(out.get(k), dict):
                out[k].update(v)
                continue
        out[k] = v
    return out


# -- pruning (neural-search PruneUtils), in float32 -------------------------------------------
PRUNE_TYPES = ("none", "top_k", "alpha_mass", "max_ratio", "abs_value")
_PRUNE_RULES = {
    "top_k": "prune_ratio should be positive integer.",
    "max_ratio": "prune_ratio should be in the range [0, 1).",
    "alpha_mass": "prune_ratio should be in the range [0, 1).",
    "abs_value": "prune_ratio should be non-negative.",
}


def valid_prune_ratio(prune_type: str, ratio: float) -> bool:
    r = np.float32(ratio)
    if prune_type == "top_k":
        return bool(r > 0 and r == math.floor(r))
    if prune_type in ("max_ratio", "alpha_mass"):
        return bool(0 <= r < 1)
    if prune_type == "abs_value":
        return bool(r >= 0)
    return True


def parse_prune(prune_type: str | None, ratio: float | None, *, ratio_given: bool) -> tuple[str, np.float32]:
    """PruneType.fromString + the factory's checks; raises IllegalArgument as neural-search does."""
    kind = prune_type or "none"
    if kind not in PRUNE_TYPES:
        raise IllegalArgument(f"Unknown prune type: {prune_type}")
    if kind == "none":
        if ratio_given:
            raise IllegalArgument("prune_ratio field is not supported when prune_type is not provided")
        return kind, np.float32(0)
    if ratio is None:
        raise config_error("sparse_encoding", "prune_ratio", "required property is missing")
    if not valid_prune_ratio(kind, ratio):
        raise IllegalArgument(
            f"Illegal prune_ratio {float(np.float32(ratio)):.6f} for prune_type: {kind}. {_PRUNE_RULES[kind]}"
        )
    return kind, np.float32(ratio)


def prune(prune_type: str, ratio: np.float32, weights: dict[str, np.float32]) -> dict[str, np.float32]:
    """PruneUtils.pruneSparseVector: keeps the original token order of the kept entries."""
    for v in weights.values():
        if not v > 0:
            raise IngestProcessorError("Pruned values must be positive")
    if prune_type == "none" or not weights:
        return weights
    if prune_type == "max_ratio":
        bound = np.float32(ratio * max(weights.values()))
        return {t: w for t, w in weights.items() if w >= bound}
    if prune_type == "abs_value":
        return {t: w for t, w in weights.items() if w >= ratio}
    if prune_type == "top_k":
        k = int(ratio)
        heap: list[tuple[np.float32, int, str]] = []  # min-heap; a tie never displaces (insertion order)
        for i, (t, w) in enumerate(weights.items()):
            if len(heap) < k:
                heapq.heappush(heap, (w, i, t))
            elif w > heap[0][0]:
                heapq.heapreplace(heap, (w, i, t))
        keep = {t for _, _, t in heap}
        return {t: w for t, w in weights.items() if t in keep}
    if prune_type == "alpha_mass":
        ordered = sorted(weights.items(), key=lambda kv: -kv[1])  # stable: ties keep insertion order
        total = np.float32(sum(float(w) for w in weights.values()))
        bound = np.float32(ratio * total)
        top = np.float32(0)
        keep_set = set()
        for t, w in ordered:
            top = np.float32(top + w)
            if top <= bound:
                keep_set.add(t)
        return {t: w for t, w in weights.items() if t in keep_set}
    raise IllegalArgument(f"Unknown prune type: {prune_type}")


# -- inference processors --------------------------------------------------------------------
class InferenceProcessor(Processor):
    list_key = ""

    def __init__(self, common: Common, cfg: Config) -> None:
        super().__init__(common)
        self.model_id = cfg.string("model_id")
        if not self.model_id.strip():
            raise IllegalArgument("model_id is null or empty, cannot process it")
        self.field_map = cfg.obj("field_map")
        if not self.field_map or any(
            not str(k).strip() or v is None or not str(v).strip() for k, v in self.field_map.items()
        ):
            raise IllegalArgument("Unable to create the processor as field_map has invalid key or value")
        self.batch_size = cfg.integer("batch_size", 1)
        if self.batch_size < 1:
            raise config_error(self.type, "batch_size", "batch_size should >= 1")
        self.skip_existing = cfg.boolean("skip_existing", False)
        self._validation_map = _normalize_field_map(self.field_map)

    async def encode(self, encoder: Encoder, texts: list[str]) -> list[Any]:
        raise NotImplementedError

    async def run(self, docs: list[IngestDocument], ctx: RunContext) -> list[ModelNodeError | None]:
        errors: list[ModelNodeError | None] = [None] * len(docs)
        # per doc: (process_map, texts to infer, positions of those texts, results so far)
        plans: list[tuple[int, dict[str, Any], list[str], list[int], list[Any]]] = []
        for i, doc in enumerate(docs):
            try:
                validate_map_values(self._validation_map, doc.source, allow_empty=False)
                pm = build_process_map(self.field_map, doc.source)
                texts = inference_texts(pm)
            except ModelNodeError as e:
                errors[i] = e
                continue
            if not texts:
                continue
            results: list[Any] = [None] * len(texts)
            todo = list(range(len(texts)))
            if self.skip_existing and doc.existing is not None:
                todo = self._reuse(pm, texts, doc.existing, results)
            plans.append((i, pm, texts, todo, results))
        if ctx.encoder is None and any(p[3] for p in plans):
            raise _state_error("no encoder is available to run inference processors")
        with_work = [p for p in plans if p[3]]
        batches = [with_work[s : s + self.batch_size] for s in range(0, len(with_work), self.batch_size)]
        gate = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def run_batch(batch: list[tuple[int, dict[str, Any], list[str], list[int], list[Any]]]) -> None:
            flat = [(p, j) for p in batch for j in p[3]]
            texts = [p[2][j] for p, j in flat]
            order = sorted(range(len(texts)), key=lambda n: len(texts[n]))  # stable: ties keep order
            try:
                async with gate:
                    assert ctx.encoder is not None
                    encoded = await self.encode(ctx.encoder, [texts[n] for n in order])
                if len(encoded) != len(texts):
                    raise _state_error(f"the model returned {len(encoded)} results for {len(texts)} texts")
                restored: list[Any] = [None] * len(texts)
                for pos, n in enumerate(order):
                    restored[n] = encoded[pos]
                for (p, j), value in zip(flat, restored, strict=True):
                    p[4][j] = value
            except ModelNodeError as e:
                for p in batch:
                    errors[p[0]] = e
            except Exception as e:  # an unexpected failure fails the batch's docs, not the request
                err = ModelNodeError(f"{type(e).__name__}: {e}", status=500, error_type="exception")
                for p in batch:
                    errors[p[0]] = err

        await asyncio.gather(*(run_batch(b) for b in batches))
        for i, pm, _texts, _todo, results in plans:
            if errors[i] is None:
                try:
                    self.finish(docs[i], pm, results)
                except ModelNodeError as e:
                    errors[i] = e
        return errors

    def _reuse(self, pm: dict[str, Any], texts: list[str], existing: dict[str, Any], results: list[Any]) -> list[int]:
        """skip_existing: per field_map entry, an unchanged input with a stored output is copied."""
        old_pm = build_process_map(self.field_map, existing)
        todo: list[int] = []
        start = 0
        for key, value in pm.items():
            n = len(inference_texts({key: value}))
            stored = read_results({key: value}, existing, self.list_key) if old_pm.get(key) == value else []
            if n and len(stored) == n and all(s is not None for s in stored):
                results[start : start + n] = [self.from_stored(s) for s in stored]
            else:
                todo.extend(range(start, start + n))
            start += n
        return todo

    def from_stored(self, value: Any) -> Any:
        return value

    def finish(self, doc: IngestDocument, pm: dict[str, Any], results: list[Any]) -> None:
        write_results(pm, results, doc.source, self.list_key)


class TextEmbeddingProcessor(InferenceProcessor):
    type = "text_embedding"
    list_key = "knn"

    async def encode(self, encoder: Encoder, texts: list[str]) -> list[Any]:
        vectors = await encoder.text_embedding(self.model_id, texts)
        # float32, as the model's (Java Float) output: _source prints the shortest float32 form
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    def from_stored(self, value: Any) -> Any:
        return np.asarray(value, dtype=np.float32)


class SparseEncodingProcessor(InferenceProcessor):
    type = "sparse_encoding"
    list_key = "sparse_encoding"

    def __init__(self, common: Common, cfg: Config) -> None:
        ratio_given = cfg.has("prune_ratio")
        prune_type = cfg.string("prune_type", None)
        ratio = cfg.number("prune_ratio", None) if (prune_type or "none") != "none" or ratio_given else None
        super().__init__(common, cfg)
        self.prune_type, self.prune_ratio = parse_prune(prune_type, ratio, ratio_given=ratio_given)

    async def encode(self, encoder: Encoder, texts: list[str]) -> list[Any]:
        maps = await encoder.sparse_encoding(self.model_id, texts)
        out = []
        for m in maps:
            weights = {str(t): np.float32(w) for t, w in m.items()}
            out.append(prune(self.prune_type, self.prune_ratio, weights))
        return out

    def from_stored(self, value: Any) -> Any:
        return {t: np.float32(w) for t, w in value.items()} if isinstance(value, dict) else value


# -- text_chunking ---------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# pipelines
# ------------------------------------------------------------------------------------------------
PROCESSORS: dict[str, Callable[[Common, Config], Processor]] = {
    "text_embedding": TextEmbeddingProcessor,
    "sparse_encoding": SparseEncodingProcessor,
    "text_chunking": TextChunkingProcessor,
    "set": SetProcessor,
    "remove": RemoveProcessor,
    "rename": RenameProcessor,
    "lowercase": LowercaseProcessor,
    "uppercase": UppercaseProcessor,
    "append": AppendProcessor,
    "fail": FailProcessor,
    "drop": DropProcessor,
}


@dataclass
class Pipeline:
    id: str
    description: str | None
    processors: list[Processor]
    on_failure: list[Processor] | None
    version: int | None = None

    def model_ids(self) -> set[str]:
        out: set[str] = set()

        def walk(procs: list[Processor] | None) -> None:
            for p in procs or []:
                if isinstance(p, InferenceProcessor):
                    out.add(p.model_id)
                walk(p.on_failure)

        walk(self.processors)
        walk(self.on_failure)
        return out


def _read_processors(items: Any, prop: str) -> list[Processor]:
    if not isinstance(items, list):
        raise config_error(None, prop, f"property isn't a list, but of type [{java_type(items)}]")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise config_error(None, prop, f"property isn't a map, but of type [{java_type(item)}]")
        for ptype, config in item.items():
            out.append(read_processor(ptype, config))
    return out


def read_processor(ptype: str, config: Any) -> Processor:
    factory = PROCESSORS.get(ptype)
    if factory is None:
        raise ParseError(f"No processor type exists with name [{ptype}]")
    if not isinstance(config, dict):
        raise config_error(ptype, None, f"[{ptype}] processor config isn't a map, but of type [{java_type(config)}]")
    cfg = Config(ptype, config)
    tag = cfg.string("tag", None)
    description = cfg.string("description", None)
    condition_src = cfg.any("if", None)
    if condition_src is not None and not isinstance(condition_src, str):
        if isinstance(condition_src, dict) and isinstance(condition_src.get("source"), str):
            condition_src = condition_src["source"]
        else:
            raise config_error(ptype, "if", "property isn't a string or a script object")
    condition = Condition(condition_src) if condition_src is not None else None
    ignore_failure = cfg.boolean("ignore_failure", False)
    on_failure_raw = cfg.any("on_failure", None)
    on_failure = None
    if on_failure_raw is not None:
        on_failure = _read_processors(on_failure_raw, "on_failure")
        if not on_failure:
            raise config_error(ptype, "on_failure", "processors list cannot be empty")
    processor = factory(Common(tag, description, condition, ignore_failure, on_failure), cfg)
    cfg.done()
    return processor


def parse_pipeline(pipeline_id: str, body: Any) -> Pipeline:
    """Validate a pipeline body as OpenSearch's Pipeline.create; models are not checked here (they
    are resolved when a document is ingested, as in OpenSearch)."""
    if not isinstance(body, dict):
        raise ParseError("request body must be a JSON object")
    config = dict(body)
    description = config.pop("description", None)
    version = config.pop("version", None)
    config.pop("_meta", None)
    if "processors" not in config or config["processors"] is None:
        config.pop("processors", None)
        raise config_error(None, "processors", "required property is missing")
    processors = _read_processors(config.pop("processors"), "processors")
    on_failure = None
    if "on_failure" in config:
        on_failure = _read_processors(config.pop("on_failure"), "on_failure")
        if not on_failure:
            raise ParseError(f"pipeline [{pipeline_id}] cannot have an empty on-failure option defined")
    if config:
        raise ParseError(
            f"pipeline [{pipeline_id}] doesn't support one or more provided configuration parameters "
            f"[{', '.join(config)}]"
        )
    if description is not None and not isinstance(description, str):
        raise config_error(None, "description", f"property isn't a string, but of type [{java_type(description)}]")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise config_error(None, "version", f"property cannot be converted to an int [{version}]")
    return Pipeline(pipeline_id, description, processors, on_failure, version)


# -- execution ---------------------------------------------------------------------------------
def _trace(doc: IngestDocument, proc: Processor, status: str, error: ModelNodeError | None = None) -> None:
    if doc.trace is None:
        return
    entry: dict[str, Any] = {"processor_type": proc.type, "status": status}
    if proc.tag is not None:
        entry["tag"] = proc.tag
    if proc.description is not None:
        entry["description"] = proc.description
    if proc.condition is not None:
        entry["if"] = {"condition": proc.condition.source, "result": status != "skipped"}
    if status == "error" and error is not None:
        entry["error"] = error_json(error)
    else:
        if status == "error_ignored" and error is not None:
            entry["ignored_error"] = {"error": error_json(error)}
        if status != "skipped" and not doc.dropped:
            entry["doc"] = doc.snapshot()
    doc.trace.append(entry)


def error_json(error: ModelNodeError) -> dict[str, Any]:
    cause = {"type": error.error_type, "reason": error.reason}
    return {"root_cause": [cause], **cause}


async def _run_list(processors: list[Processor], docs: list[IngestDocument], ctx: RunContext) -> None:
    """Run processors in order over the alive docs; a failed doc (not handled) gets ``doc.error``."""
    for proc in processors:
        live = [d for d in docs if d.alive]
        if not live:
            return
        selected: list[IngestDocument] = []
        for d in live:
            try:
                if proc.condition is None or proc.condition.evaluate(d):
                    selected.append(d)
                else:
                    _trace(d, proc, "skipped")
            except ModelNodeError as e:
                d.error, d.failed_in = e, (proc.type, proc.tag)
                _trace(d, proc, "error", e)
        if not selected:
            continue
        errors = await proc.run(selected, ctx)
        failed: list[tuple[IngestDocument, ModelNodeError]] = []
        for d, err in zip(selected, errors, strict=True):
            if err is None:
                _trace(d, proc, "dropped" if d.dropped else "success")
            elif proc.ignore_failure:
                _trace(d, proc, "error_ignored", err)
            else:
                _trace(d, proc, "error", err)
                failed.append((d, err))
        if not failed:
            continue
        if proc.on_failure:
            handled = [d for d, _ in failed]
            for d, err in failed:
                d.ingest.update(
                    on_failure_message=err.reason,
                    on_failure_processor_type=proc.type,
                    on_failure_processor_tag=proc.tag,
                )
            await _run_list(proc.on_failure, handled, ctx)
            for d in handled:
                for key in ("on_failure_message", "on_failure_processor_type", "on_failure_processor_tag"):
                    d.ingest.pop(key, None)
        else:
            for d, err in failed:
                d.error = err
                d.failed_in = (proc.type, proc.tag)


async def execute(pipeline: Pipeline, docs: list[IngestDocument], ctx: RunContext) -> None:
    """Run ``pipeline`` over ``docs`` in place: each ends with its new ``source``, or ``error`` set,
    or ``dropped``. Pipeline-level ``on_failure`` handles a failed doc (which is then kept)."""
    for d in docs:
        d.ingest.setdefault("timestamp", now_iso())
        if ctx.verbose and d.trace is None:
            d.trace = []
    await _run_list(pipeline.processors, docs, ctx)
    if pipeline.on_failure:
        failed = [d for d in docs if d.error is not None]
        for d in failed:
            err = d.error
            assert err is not None
            ptype, tag = d.failed_in or (None, None)
            d.ingest.update(
                on_failure_message=err.reason, on_failure_processor_type=ptype, on_failure_processor_tag=tag
            )
            d.error, d.failed_in = None, None
        if failed:
            await _run_list(pipeline.on_failure, failed, ctx)
        for d in failed:
            for key in ("on_failure_message", "on_failure_processor_type", "on_failure_processor_tag"):
                d.ingest.pop(key, None)
