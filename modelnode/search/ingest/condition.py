"""The ``if`` of a processor: a painless-free subset of boolean expressions over ``ctx``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from modelnode.search.ingest.document import IngestDocument
from modelnode.search.ingest.errors import ScriptError

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
