"""The highlighter's sentence segmenter (ML Commons' DefaultSentenceSegmenter) and word -> sentence ids.

Expected splits follow ML Commons' Java rules (abbreviation masking, quote moves, the split regex
with ASCII ``\\w``/``\\s``/``\\b`` as in JDK 19+); offsets are exact by construction."""

from __future__ import annotations

import random

import pytest

from modelnode.runtime.sentences import Sentence, segment, word_sentence_ids, word_spans

WEATHER = "Clouds cleared over the harbour at noon. The sun is shining. Boats left the bay."


def texts(context: str) -> list[str]:
    return [s.text for s in segment(context)]


def spans(context: str) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in segment(context)]


def test_spec_example() -> None:
    # The spec's response example: {"text": "The sun is shining.", "position": 1, "start": 41, "end": 60}.
    assert segment(WEATHER) == [
        Sentence("Clouds cleared over the harbour at noon.", 0, 0, 40),
        Sentence("The sun is shining.", 1, 41, 60),
        Sentence("Boats left the bay.", 2, 61, 80),
    ]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("Dr. Smith arrived. He was late.", ["Dr. Smith arrived.", "He was late."]),
        ("Mr.  Jones met Mrs. Brown. They talked.", ["Mr.  Jones met Mrs. Brown.", "They talked."]),
        ("Use a tool, e.g. this one. Then stop.", ["Use a tool, e.g. this one.", "Then stop."]),
        ("Buy fruit, i.e. apples. Eat them.", ["Buy fruit, i.e. apples.", "Eat them."]),
        ("Acme Inc. makes things. Sales rose.", ["Acme Inc. makes things.", "Sales rose."]),
        ("Red vs. blue is old. Fine.", ["Red vs. blue is old.", "Fine."]),
        ("See fig. 2 for data. It is clear.", ["See fig. 2 for data.", "It is clear."]),
        # Abbreviations are case-sensitive and need a word boundary before them.
        ("Ask the dr. She knows.", ["Ask the dr.", "She knows."]),
        ("The U.S.A. is big. It has states.", ["The U.S.A. is big.", "It has states."]),
        ("A.B. test. Next.", ["A.B. test.", "Next."]),
        ("Version 3.5 is out. Yes.", ["Version 3.5 is out.", "Yes."]),
        # ML Commons splits after a lone initial at the start (its lookbehind needs a char before it).
        ("J. Smith wrote. Done.", ["J.", "Smith wrote.", "Done."]),
        ('He said "hello." Then he left!', ['He said "hello."', "Then he left!"]),
        ('Did he ask "why?" No.', ['Did he ask "why?"', "No."]),
        ('She shouted "stop!" He did.', ['She shouted "stop!"', "He did."]),
        ("Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
        ("No punctuation here", ["No punctuation here"]),
        ("Ends without a stop. and lower case follows", ["Ends without a stop.", "and lower case follows"]),
        ("Dots...but no space. Next.", ["Dots...but no space.", "Next."]),
    ],
)
def test_tricky_splits(context: str, expected: list[str]) -> None:
    assert texts(context) == expected
    for s in segment(context):
        assert context[s.start : s.end].strip() == s.text


def test_abbreviations_keep_their_text_and_exact_offsets() -> None:
    # ML Commons would report "Dr@@@ Smith ..." and an end 2 characters too far; we do not.
    context = "Hello there. Dr. Smith and Prof. Lee met e.g. twice. Bye."
    s = segment(context)
    assert [x.text for x in s] == ["Hello there.", "Dr. Smith and Prof. Lee met e.g. twice.", "Bye."]
    assert [context[x.start : x.end] for x in s] == [x.text for x in s]
    assert all("@@@" not in x.text for x in s)


def test_moved_quotes_keep_their_text() -> None:
    context = 'First "one." Second.'
    assert segment(context) == [Sentence('First "one."', 0, 0, 12), Sentence("Second.", 1, 13, 20)]


def test_multiple_spaces_newlines_and_tabs() -> None:
    context = "First.   Second.\n\nThird.\tFourth.\r\nFifth."
    assert texts(context) == ["First.", "Second.", "Third.", "Fourth.", "Fifth."]
    assert spans(context) == [(0, 6), (9, 16), (18, 24), (25, 32), (34, 40)]


def test_leading_and_trailing_whitespace_stay_in_the_span_not_the_text() -> None:
    context = "  Leading. Trailing.  "
    assert segment(context) == [Sentence("Leading.", 0, 0, 10), Sentence("Trailing.", 1, 11, 20)]
    context = "  Only one sentence without a stop  "
    assert segment(context) == [Sentence("Only one sentence without a stop", 0, 0, len(context))]


def test_empty_and_blank_contexts_give_one_empty_sentence() -> None:
    assert segment("") == [Sentence("", 0, 0, 0)]
    assert segment("   \n") == [Sentence("", 0, 0, 4)]


def test_non_ascii_whitespace_does_not_split() -> None:
    # Java's \s is ASCII: a no-break space after a period is not a boundary.
    assert texts("One.\u00a0Two. Three.") == ["One.\u00a0Two.", "Three."]


def test_segments_partition_the_context() -> None:
    rng = random.Random(7)
    alphabet = ["a", "B", "Z", "1", ".", ".", "!", "?", '"', " ", " ", "  ", "\n", "\t", "é", ","]
    alphabet += ["Dr. ", "e.g. ", "U.S.A. ", "Mrs.", "etc. ", "A."]
    for _ in range(500):
        context = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        sentences = segment(context)
        assert [s.position for s in sentences] == list(range(len(sentences)))
        previous = 0
        for s in sentences:
            assert previous <= s.start <= s.end <= len(context)
            assert context[previous : s.start].strip() == ""  # only whitespace between sentences
            assert context[s.start : s.end].strip(" \t\n\x0b\f\r") == s.text
            previous = s.end
        assert context[previous:].strip() == ""


def test_word_spans_are_whitespace_separated_words() -> None:
    assert word_spans("  Hello,  world.\nBye") == [(2, 8), (10, 16), (17, 20)]
    assert word_spans("") == []


def test_word_sentence_ids() -> None:
    assert word_sentence_ids(WEATHER, segment(WEATHER)) == [0] * 7 + [1] * 4 + [2] * 4
    context = "Hi  there.\n\nDr. Who   came. Bye."
    # Real offsets: extra spaces and newlines do not shift words into other sentences.
    assert word_sentence_ids(context, segment(context)) == [0, 0, 1, 1, 1, 2]
    assert word_sentence_ids("", segment("")) == []
