"""Analyzers: text -> tokens with positions and character offsets.

``standard`` follows Lucene's StandardTokenizer (Unicode UAX #29 word boundaries) + LowerCaseFilter,
with no stop words, which is what OpenSearch's ``standard`` analyzer does:

* letters, digits and ``_`` (ExtendNumLet) form words; combining marks and format characters stay
  attached to the character before them;
* ``:``, ``·`` (MidLetter) and ``.``, ``'``, ``’`` (MidNumLet) join two letters: ``don't``,
  ``u.s.a``, ``example.com``, ``a:b``;
* ``,``, ``;`` (MidNum) and ``.``, ``'`` join two digits: ``1,000.50``, ``3.14``;
* letters and digits join each other: ``abc123``, ``v1.2``;
* every Han ideograph and every Hiragana character is its own token; Katakana runs and runs of
  South-East Asian scripts (Thai, Lao, Khmer, Myanmar, ...) are one token each; emoji (with their
  modifiers and ZWJ sequences) are tokens;
* tokens longer than 255 characters are split every 255 characters (``max_token_length``);
* lower-casing is per code point like Java's ``Character.toLowerCase`` (so ``Σ`` -> ``σ`` even at
  the end of a word, and ``İ`` -> ``i``).

Differences from Lucene that remain: offsets count Python code points (Lucene counts UTF-16 units,
which only differs above U+FFFF); the Hebrew-specific quote rules (WB7a-c) and regional-indicator
pairing are not implemented; the character tables come from this Python's ``unicodedata`` rather
than the Unicode version Lucene's JFlex grammar was generated from.

Also here: ``simple`` (runs of letters, lower-cased), ``whitespace`` (split on whitespace) and
``keyword`` (the whole value as one token). Any other analyzer name is refused with a clear error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from modelnode.errors import IllegalArgument

MAX_TOKEN_LENGTH = 255
# OpenSearch's default ``position_increment_gap`` for text fields: positions jump by this between
# the values of a multi-valued field, so phrases never match across two values.
POSITION_INCREMENT_GAP = 100


class Token(NamedTuple):
    term: str
    start: int  # offset of the first character in the analysed string
    end: int  # offset one past the last character
    position: int
    type: str = "<ALPHANUM>"


# -- character classes (UAX #29 word-break properties, as far as the standard tokenizer needs) ----

# MidLetter, MidNumLet (incl. Single_Quote) and MidNum, from WordBreakProperty.txt
_MID_LETTER = "\u003a\u00b7\u0387\u055f\u05f4\u2027\ufe13\ufe55\uff1a"
_MID_NUM_LET = "\u002e\u2018\u2019\u2024\ufe52\uff07\uff0e\u0027"
_MID_NUM = "\u002c\u003b\u037e\u0589\u060c\u060d\u066c\u07f8\u2044\ufe10\ufe14\ufe50\ufe54\uff0c\uff1b"

_HAN_RANGES = [
    (0x3005, 0x3007),
    (0x3021, 0x3029),
    (0x3038, 0x303B),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
]
_HIRAGANA_RANGES = [(0x3041, 0x3096), (0x309D, 0x309F), (0x1B001, 0x1B11F)]
_KATAKANA_RANGES = [
    (0x3031, 0x3035),
    (0x309B, 0x309C),
    (0x30A0, 0x30FA),
    (0x30FC, 0x30FF),
    (0x31F0, 0x31FF),
    (0x32D0, 0x32FE),
    (0x3300, 0x3357),
    (0xFF66, 0xFF9D),
    (0x1B000, 0x1B000),
]
# Complex_Context (line-break class SA) scripts: Thai, Lao, Myanmar, Khmer, Tai Le, New Tai Lue,
# Tai Tham, Tai Viet and the Myanmar extensions. Only their letters and marks form SA runs.
_SA_RANGES = [
    (0x0E00, 0x0E4F),
    (0x0E80, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x1950, 0x19DF),
    (0x1A20, 0x1AAF),
    (0xA9E0, 0xA9FF),
    (0xAA60, 0xAADF),
]
_EMOJI_RANGES = [(0x2300, 0x23FF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x1F000, 0x1FAFF)]
_EMOJI_MODIFIERS = (0x1F3FB, 0x1F3FF)
_SCAN_LIMIT = 0x32000  # BMP, SMP, SIP and the start of TIP; beyond that only Han (ranges above)

# classes
_A, _N, _E, _X, _I, _H, _K, _S, _EM, _EMOD, _ML, _MNL, _MN = range(13)


def _in(cp: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


_MIDS = {**{c: _ML for c in _MID_LETTER}, **{c: _MN for c in _MID_NUM}, **{c: _MNL for c in _MID_NUM_LET}}
_LETTER_CATS = frozenset(("Lu", "Ll", "Lt", "Lm", "Lo", "Nl"))
_EXTEND_CATS = frozenset(("Mn", "Mc", "Me", "Cf"))
_SKIP_CATS = frozenset(("Cn", "Co", "Cs", "Cc", "Zs", "Zl", "Zp", "Pd", "Ps", "Pe", "Pi", "Pf", "Sc"))


def _script_table() -> bytearray:
    """Per code point below _SCAN_LIMIT: 0 = none, else the script class + 1 (Han, Hiragana, ...)."""
    table = bytearray(_SCAN_LIMIT)
    for cls, ranges in ((_I, _HAN_RANGES), (_H, _HIRAGANA_RANGES), (_K, _KATAKANA_RANGES), (_S, _SA_RANGES)):
        for lo, hi in ranges:
            hi = min(hi, _SCAN_LIMIT - 1)
            if lo <= hi:
                table[lo : hi + 1] = bytes([cls + 1]) * (hi - lo + 1)
    return table


def _classify(cp: int, cat: str, script: int) -> int | None:
    ch = chr(cp)
    mid = _MIDS.get(ch)
    if mid is not None:
        return mid
    if script:
        s = script - 1
        if s == _I:
            return _I if cat[0] in "LN" else None
        if s == _H:
            return _H if cat[0] == "L" else (_X if cat[0] == "M" else None)
        if s == _K:
            return _K
        if cat[0] in "LM":
            return _S
    if cat in _LETTER_CATS:
        return _A
    if cat == "Nd":
        return _N
    if cat == "Pc":
        return _E
    if cat in _EXTEND_CATS:
        return _X
    if _EMOJI_MODIFIERS[0] <= cp <= _EMOJI_MODIFIERS[1]:
        return _EMOD
    if cat == "So" and _in(cp, _EMOJI_RANGES):
        return _EM
    return None


def _ranges_to_class(points: list[int]) -> str:
    out: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        lo, hi = points[i], points[j]
        out.append(re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}")
        i = j + 1
    return "".join(out)


@dataclass(frozen=True)
class _Tables:
    pattern: re.Pattern[str]
    cls: dict[str, int]  # every classified character -> class (for the split pass)


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Build the character classes once (about 0.1 s), on the first non-trivial analysis."""
    members: dict[int, list[int]] = {c: [] for c in range(13)}
    cls: dict[str, int] = {}
    scripts = _script_table()
    category = unicodedata.category
    for cp in range(_SCAN_LIMIT):
        cat = category(chr(cp))
        if cat in _SKIP_CATS and chr(cp) not in _MIDS:
            continue
        c = _classify(cp, cat, scripts[cp])
        if c is not None:
            members[c].append(cp)
            cls[chr(cp)] = c
    for lo, hi in [(0x32000, 0x3134F)]:
        for cp in range(lo, hi + 1):
            members[_I].append(cp)
            cls[chr(cp)] = _I
    for lo, hi in [(0xE0001, 0xE0001), (0xE0020, 0xE007F), (0xE0100, 0xE01EF)]:  # tags, variation selectors
        for cp in range(lo, hi + 1):
            members[_X].append(cp)
            cls[chr(cp)] = _X

    def k(*classes: int) -> str:
        return "[" + "".join(_ranges_to_class(sorted(p for c in classes for p in members[c]))) + "]"

    word = k(_A, _N, _E)
    word_x = k(_A, _N, _E, _X)
    mid = k(_ML, _MNL, _MN)
    pattern = re.compile(
        rf"(?P<w>{word}{word_x}*(?:{mid}{word}{word_x}*)*)"
        rf"|(?P<k>{k(_K)}{k(_K, _E, _X)}*)"
        rf"|(?P<i>{k(_I)}{k(_X)}*)"
        rf"|(?P<h>{k(_H)}{k(_X)}*)"
        rf"|(?P<s>{k(_S)}{k(_S, _X)}*)"
        rf"|(?P<e>{k(_EM)}(?:\u200d{k(_EM)}|{k(_X, _EMOD)})*)"
    )
    return _Tables(pattern, cls)


def _split_word(text: str, start: int, end: int, cls: dict[str, int]) -> list[tuple[int, int]]:
    """Split a candidate word run at the mid characters whose neighbours don't allow a join."""
    pieces: list[tuple[int, int]] = []
    piece_start = start
    last_base: int | None = None  # class of the last non-Extend character
    i = start
    while i < end:
        c = cls.get(text[i])
        if c in (_ML, _MNL, _MN):
            nxt = cls.get(text[i + 1]) if i + 1 < end else None
            joins = (c in (_ML, _MNL) and last_base == _A and nxt == _A) or (
                c in (_MN, _MNL) and last_base == _N and nxt == _N
            )
            if not joins:
                pieces.append((piece_start, i))
                piece_start = i + 1
                last_base = None
        elif c != _X:
            last_base = c
        i += 1
    pieces.append((piece_start, end))
    return [(s, e) for s, e in pieces if e > s]


_LOWER_SPECIAL = {"\u0130": "i"}  # Java's Character.toLowerCase(U+0130) is a plain "i"


@lru_cache(maxsize=4096)
def _lower_char(ch: str) -> str:
    low = ch.lower()
    return low if len(low) == 1 else _LOWER_SPECIAL.get(ch, ch)


def java_lowercase(s: str) -> str:
    """Lower-case per code point, as Lucene's LowerCaseFilter (Java ``Character.toLowerCase``)."""
    if s.isascii():
        return s.lower()
    return "".join(map(_lower_char, s))


_HANGUL = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_NUMBER = re.compile("[\\d" + re.escape(_MID_NUM + _MID_NUM_LET) + "]+")
_MID_ANY = re.compile("[" + re.escape(_MID_LETTER + _MID_NUM_LET + _MID_NUM) + "]")


def _word_type(piece: str) -> str:
    if _NUMBER.fullmatch(piece):
        return "<NUM>"
    return "<HANGUL>" if not piece.isascii() and _HANGUL.search(piece) else "<ALPHANUM>"


_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+(?:[:.',;][A-Za-z0-9_]+)*")
_ASCII_CLS = {
    **{c: _A for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    **{c: _N for c in "0123456789"},
    "_": _E,
    ":": _ML,
    ".": _MNL,
    "'": _MNL,
    ",": _MN,
    ";": _MN,
}


def _word_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of every token before length splitting; kind is a pattern group name."""
    if text.isascii():
        for m in _ASCII_WORD.finditer(text):
            s, e = m.span()
            if _MID_ANY.search(text, s, e) is None:
                yield s, e, "w"
            else:
                for ps, pe in _split_word(text, s, e, _ASCII_CLS):
                    yield ps, pe, "w"
        return
    tables = _tables()
    for m in tables.pattern.finditer(text):
        kind = m.lastgroup or "w"
        s, e = m.span()
        if kind != "w" or _MID_ANY.search(text, s, e) is None:
            yield s, e, kind
        else:
            for ps, pe in _split_word(text, s, e, tables.cls):
                yield ps, pe, "w"


def standard_tokens(text: str, *, max_token_length: int = MAX_TOKEN_LENGTH, lowercase: bool = True) -> list[Token]:
    """Lucene StandardTokenizer (+ LowerCaseFilter): tokens with offsets and positions from 0."""
    low = java_lowercase(text) if lowercase else text  # per code point, so offsets are unchanged
    out: list[Token] = []
    for s, e, kind in _word_spans(text):
        typ = _word_type(text[s:e]) if kind == "w" else _GROUP_TYPES[kind]
        if e - s <= max_token_length:
            out.append(Token(low[s:e], s, e, len(out), typ))
            continue
        for cs in range(s, e, max_token_length):
            ce = min(cs + max_token_length, e)
            out.append(Token(low[cs:ce], cs, ce, len(out), typ))
    return out


def standard_terms(text: str, *, max_token_length: int = MAX_TOKEN_LENGTH) -> list[str]:
    """The terms of ``standard_tokens`` (position i = index i), without building tokens: for indexing."""
    out: list[str] = []
    if text.isascii():  # the fast path: whole-string lower-casing and findall
        for tok in _ASCII_WORD.findall(text.lower()):
            if _MID_ANY.search(tok) is None:
                pieces = [tok]
            else:
                pieces = [tok[s:e] for s, e in _split_word(tok, 0, len(tok), _ASCII_CLS)]
            for piece in pieces:
                if len(piece) <= max_token_length:
                    out.append(piece)
                else:
                    out.extend(piece[i : i + max_token_length] for i in range(0, len(piece), max_token_length))
        return out
    low = java_lowercase(text)
    for s, e, _ in _word_spans(text):
        if e - s <= max_token_length:
            out.append(low[s:e])
        else:
            out.extend(low[cs : min(cs + max_token_length, e)] for cs in range(s, e, max_token_length))
    return out


_GROUP_TYPES = {
    "w": "<ALPHANUM>",
    "k": "<KATAKANA>",
    "i": "<IDEOGRAPHIC>",
    "h": "<HIRAGANA>",
    "s": "<SOUTHEAST_ASIAN>",
    "e": "<EMOJI>",
}


_WHITESPACE = re.compile(r"[^\s\u001c-\u001f]+")


def _is_java_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "L"


class Analyzer:
    """An analyzer: ``tokens(text)`` gives tokens with offsets; positions start at 0."""

    name: str = ""

    def tokens(self, text: str) -> list[Token]:
        raise NotImplementedError

    def terms(self, text: str) -> list[str]:
        return [t.term for t in self.tokens(text)]


class StandardAnalyzer(Analyzer):
    name = "standard"

    def tokens(self, text: str) -> list[Token]:
        return standard_tokens(text)

    def terms(self, text: str) -> list[str]:
        return standard_terms(text)


class SimpleAnalyzer(Analyzer):
    """Lucene's SimpleAnalyzer: maximal runs of letters, lower-cased."""

    name = "simple"

    def tokens(self, text: str) -> list[Token]:
        out: list[Token] = []
        i, n = 0, len(text)
        while i < n:
            if _is_java_letter(text[i]):
                j = i + 1
                while j < n and _is_java_letter(text[j]):
                    j += 1
                out.append(Token(java_lowercase(text[i:j]), i, j, len(out), "word"))
                i = j
            else:
                i += 1
        return out


class WhitespaceAnalyzer(Analyzer):
    name = "whitespace"

    def tokens(self, text: str) -> list[Token]:
        return [Token(m.group(), m.start(), m.end(), i, "word") for i, m in enumerate(_WHITESPACE.finditer(text))]


class KeywordAnalyzer(Analyzer):
    name = "keyword"

    def tokens(self, text: str) -> list[Token]:
        return [Token(text, 0, len(text), 0, "word")]


ANALYZERS: dict[str, Analyzer] = {
    a.name: a for a in (StandardAnalyzer(), SimpleAnalyzer(), WhitespaceAnalyzer(), KeywordAnalyzer())
}
# OpenSearch's "default" analyzer of an index is the standard one.
ANALYZERS["default"] = ANALYZERS["standard"]


def get_analyzer(name: str | None) -> Analyzer:
    """The analyzer called ``name`` (``None`` -> standard), or a clear 400 for one we don't have."""
    if name is None:
        return ANALYZERS["standard"]
    analyzer = ANALYZERS.get(name) if isinstance(name, str) else None
    if analyzer is None:
        supported = ", ".join(sorted(k for k in ANALYZERS if k != "default"))
        raise IllegalArgument(
            f"analyzer [{name}] is not supported by modelnode's search engine (supported: {supported}); "
            "custom and language analyzers are not available"
        )
    return analyzer


def analyze(text: str, analyzer: str | None = "standard") -> list[Token]:
    return get_analyzer(analyzer).tokens(text)


def analyze_values(
    values: Iterable[str],
    analyzer: Analyzer,
    position_increment_gap: int = POSITION_INCREMENT_GAP,
) -> list[list[Token]]:
    """Analyze the values of a multi-valued field: positions continue across values with
    ``position_increment_gap`` between them (offsets stay relative to each value)."""
    out: list[list[Token]] = []
    base = 0
    for i, value in enumerate(values):
        if i:
            base += position_increment_gap
        toks = analyzer.tokens(value)
        if base:
            toks = [Token(t.term, t.start, t.end, t.position + base, t.type) for t in toks]
        out.append(toks)
        if toks:
            base = toks[-1].position + 1
    return out


def warm_up() -> None:
    """Build the Unicode tables now rather than on the first non-ASCII text."""
    _tables()


__all__ = [
    "ANALYZERS",
    "MAX_TOKEN_LENGTH",
    "POSITION_INCREMENT_GAP",
    "Analyzer",
    "Token",
    "analyze",
    "analyze_values",
    "get_analyzer",
    "java_lowercase",
    "standard_tokens",
    "warm_up",
]
