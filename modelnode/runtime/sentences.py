"""Sentence segmentation for the semantic highlighter, as ML Commons' ``DefaultSentenceSegmenter``.

The split is ML Commons': abbreviations followed by whitespace get their periods masked (``Dr.`` ->
``Dr@@@``, the whitespace collapsed to one space), a period, ``!`` or ``?`` before a closing double
quote moves after it (``."`` -> ``".``), then the text is split on whitespace runs that follow
``.``, ``!`` or ``?``, except after initials and dotted abbreviations::

    (?<!\\w\\.\\w.)(?<!\\w[A-Z]\\.)(?<=[.!?])(?<!\\w[A-Z]\\.[A-Z]\\.)\\s+

Java flavour, reproduced exactly: ``\\w``, ``\\s`` and ``\\b`` are ASCII, ``.`` is any character but
a line terminator, trailing empty pieces are dropped, and every lookbehind is fixed-width, so
Python's ``re`` runs the pattern as it is.

Offsets are exact where ML Commons' are not. ML Commons finds each piece of the *processed* text in
the original (from the previous end; on failure, its first 10 characters; else the previous end)
and sets ``end = start + len(piece)``, so a sentence with an abbreviation or a moved quote can get
a shifted ``end`` and keeps ``@@@`` in its text. We carry the original index of every processed
character through the rewrites instead, so ``context[start:end]`` is always the piece as it stands
in the context and ``text`` is that piece trimmed (Java's ``String.trim``). For pieces without
abbreviations or quotes (nearly all text), both give the same numbers.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# ML Commons' SentenceSegmentationConfig.commonAbbreviations, in its order (it matters: rewrites
# are applied one abbreviation after another).
ABBREVIATIONS = (
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "Prof.",
    "Sr.",
    "Jr.",
    "Ltd.",
    "Co.",
    "Inc.",
    "i.e.",
    "e.g.",
    "etc.",
    "vs.",
    "fig.",
)
MASK = "@@@"

_W = "[A-Za-z0-9_]"  # Java \w (ASCII)
_S = "[ \t\n\x0b\f\r]"  # Java \s (ASCII)
_ANY = "[^\n\r\u0085\u2028\u2029]"  # Java '.' without DOTALL
SPLIT = re.compile(rf"(?<!{_W}\.{_W}{_ANY})(?<!{_W}[A-Z]\.)(?<=[.!?])(?<!{_W}[A-Z]\.[A-Z]\.){_S}+")
_QUOTE = re.compile(r'([.!?])"')
# Java \b before an abbreviation (each starts with a letter): the previous char is not \w.
_ABBREVIATION_PATTERNS = tuple((abbr, re.compile(rf"(?<!{_W}){re.escape(abbr)}{_S}+")) for abbr in ABBREVIATIONS)
_WORD = re.compile(r"[^ \t\n\x0b\f\r]+")  # what Java's split("\\s+") keeps
_JAVA_TRIM = "".join(chr(c) for c in range(0x21))  # String.trim(): every char <= ' '


@dataclass(frozen=True)
class Sentence:
    text: str  # the piece trimmed
    position: int  # index among the context's sentences
    start: int  # context[start:end] is the piece, untrimmed
    end: int


# A processed string and, for each of its characters, the index in the original it came from.
_Tracked = tuple[str, list[int]]
_Rewrite = Callable[[re.Match[str], list[int]], list[tuple[str, int]]]


def segment(text: str) -> list[Sentence]:
    """Split ``text`` into sentences, in order; never empty (``""`` gives one empty sentence)."""
    processed, origin = _preprocess(text)
    pieces = _split(processed)
    sentences = []
    for position, (ps, pe) in enumerate(pieces):
        if ps == pe:  # only for an empty text: Java's split returns [""]
            start = end = 0
        else:
            span = origin[ps:pe]
            start, end = min(span), max(span) + 1
        sentences.append(Sentence(text[start:end].strip(_JAVA_TRIM), position, start, end))
    return sentences


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each whitespace-separated word (ML Commons' ``context.split("\\\\s+")``)."""
    return [m.span() for m in _WORD.finditer(text)]


def word_sentence_ids(
    text: str, sentences: Sequence[Sentence], spans: Sequence[tuple[int, int]] | None = None
) -> list[int]:
    """For each word of ``word_spans(text)``, the position of the sentence it lies in
    (``spans``: ``word_spans(text)`` when the caller has it already).

    ML Commons assigns a word to the (last) sentence whose ``[start, end]`` contains it, 0 if none;
    it places words by adding ``len(word) + 1`` per word, which drifts as soon as words are separated
    by more than one space or start after leading whitespace. We use the words' real offsets."""
    starts = [s.start for s in sentences]
    ids = []
    for ws, we in word_spans(text) if spans is None else spans:
        i = bisect.bisect_right(starts, ws) - 1
        # Sentences never overlap, so the last one starting at or before the word is the only candidate.
        ids.append(sentences[i].position if i >= 0 and we <= sentences[i].end else 0)
    return ids


def _preprocess(text: str) -> _Tracked:
    tracked: _Tracked = (text, list(range(len(text))))
    for abbr, pattern in _ABBREVIATION_PATTERNS:
        tracked = _rewrite(tracked, pattern, _mask_abbreviation(abbr))
    return _rewrite(tracked, _QUOTE, _move_quote)


def _mask_abbreviation(abbr: str) -> _Rewrite:
    def rewrite(m: re.Match[str], origin: list[int]) -> list[tuple[str, int]]:
        out = []
        for k, ch in enumerate(abbr):
            for c in MASK if ch == "." else ch:
                out.append((c, origin[m.start() + k]))
        # The whitespace run becomes one space; it stands for the whole run (its last char), so a
        # piece ending here still ends where the run ends in the original.
        out.append((" ", origin[m.end() - 1]))
        return out

    return rewrite


def _move_quote(m: re.Match[str], origin: list[int]) -> list[tuple[str, int]]:
    p = m.start()
    return [('"', origin[p + 1]), (m.group(1), origin[p])]


def _rewrite(tracked: _Tracked, pattern: re.Pattern[str], rewrite: _Rewrite) -> _Tracked:
    """``pattern.sub`` (Java's ``replaceAll``: left to right, non-overlapping) keeping origins."""
    text, origin = tracked
    chars: list[str] = []
    new_origin: list[int] = []
    last = 0
    for m in pattern.finditer(text):
        chars.append(text[last : m.start()])
        new_origin.extend(origin[last : m.start()])
        for ch, orig in rewrite(m, origin):
            chars.append(ch)
            new_origin.append(orig)
        last = m.end()
    if last == 0:
        return tracked
    chars.append(text[last:])
    new_origin.extend(origin[last:])
    return "".join(chars), new_origin


def _split(text: str) -> list[tuple[int, int]]:
    """Java ``Pattern.split`` as spans: pieces between matches, trailing empty pieces dropped; a
    text without matches (the empty text included) is one piece."""
    pieces = []
    last = 0
    for m in SPLIT.finditer(text):
        pieces.append((last, m.start()))
        last = m.end()
    pieces.append((last, len(text)))
    while len(pieces) > 1 and pieces[-1][0] == pieces[-1][1]:
        pieces.pop()
    return pieces
