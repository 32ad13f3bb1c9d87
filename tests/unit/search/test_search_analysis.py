from __future__ import annotations

import pytest

from modelnode.errors import IllegalArgument
from modelnode.search.analysis import (
    POSITION_INCREMENT_GAP,
    analyze,
    analyze_values,
    get_analyzer,
    java_lowercase,
    standard_terms,
    standard_tokens,
)


def terms(text: str, analyzer: str = "standard") -> list[str]:
    return [t.term for t in analyze(text, analyzer)]


def test_opensearch_docs_example() -> None:
    # The standard analyzer example of the OpenSearch/Elasticsearch documentation.
    assert terms("The 2 QUICK Brown-Foxes jumped over the lazy dog's bone.") == [
        "the",
        "2",
        "quick",
        "brown",
        "foxes",
        "jumped",
        "over",
        "the",
        "lazy",
        "dog's",
        "bone",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("u.s.a. example.com", ["u.s.a", "example.com"]),  # MidNumLet between letters joins
        ("a:b x·y", ["a:b", "x·y"]),  # MidLetter joins letters
        ("1,000.50 3.14 v1.2", ["1,000.50", "3.14", "v1.2"]),  # MidNum/MidNumLet between digits
        ("a.1 1.a", ["a", "1", "1", "a"]),  # ... but not letter.digit
        ("abc123 x_1 hello_world", ["abc123", "x_1", "hello_world"]),  # letters+digits, ExtendNumLet
        ("hello..world end. 'quoted'", ["hello", "world", "end", "quoted"]),
        ("foo@bar.com wi-fi", ["foo", "bar.com", "wi", "fi"]),
        ("l'été d’accord", ["l'été", "d’accord"]),
        ("café naïve e\u0301te", ["café", "naïve", "e\u0301te"]),  # combining marks stay attached
        ("", []),
        ("  ,;:.  ", []),
    ],
)
def test_word_boundaries(text: str, expected: list[str]) -> None:
    assert terms(text) == expected


def test_scripts_ideographs_kana_and_south_east_asian() -> None:
    assert terms("我爱北京") == ["我", "爱", "北", "京"]  # one token per Han ideograph
    assert terms("ひらがな") == ["ひ", "ら", "が", "な"]  # and per Hiragana character
    assert terms("カタカナ abcカタ") == ["カタカナ", "abc", "カタ"]  # Katakana runs; no join with letters
    assert terms("ภาษาไทย ok") == ["ภาษาไทย", "ok"]  # a Thai run is one token
    assert terms("한국어 텍스트") == ["한국어", "텍스트"]


def test_emoji_tokens() -> None:
    toks = standard_tokens("ok 😀👍🏽 ❤️")
    assert [t.term for t in toks] == ["ok", "😀", "👍🏽", "❤️"]
    assert {t.type for t in toks[1:]} == {"<EMOJI>"}


def test_offsets_positions_and_types() -> None:
    toks = standard_tokens("Hello, 42 worlds")
    assert [(t.term, t.start, t.end, t.position, t.type) for t in toks] == [
        ("hello", 0, 5, 0, "<ALPHANUM>"),
        ("42", 7, 9, 1, "<NUM>"),
        ("worlds", 10, 16, 2, "<ALPHANUM>"),
    ]


def test_lowercase_is_per_code_point_like_java() -> None:
    assert java_lowercase("ΣΑΣ") == "σασ"  # no final-sigma rule (Python's str.lower gives "σας")
    assert java_lowercase("İstanbul") == "istanbul"  # one char, as Character.toLowerCase
    assert terms("ΣΑΣ İSTANBUL") == ["σασ", "istanbul"]


def test_long_tokens_are_split_at_255() -> None:
    toks = standard_tokens("x" * 600)
    assert [len(t.term) for t in toks] == [255, 255, 90]
    assert [(t.start, t.end) for t in toks] == [(0, 255), (255, 510), (510, 600)]


def test_terms_fast_path_equals_tokens() -> None:
    text = "Ünïcödé text, 3.14 and 我爱 — don't stop " * 3
    assert standard_terms(text) == [t.term for t in standard_tokens(text)]


def test_other_analyzers() -> None:
    assert terms("Hello World-2x", "simple") == ["hello", "world", "x"]
    assert terms("Hello  World-2x", "whitespace") == ["Hello", "World-2x"]
    assert terms("Hello World", "keyword") == ["Hello World"]


def test_unknown_analyzer_is_a_clear_error() -> None:
    with pytest.raises(IllegalArgument, match=r"analyzer \[english\] is not supported"):
        get_analyzer("english")


def test_multi_valued_positions_have_a_gap() -> None:
    values = analyze_values(["a b", "c"], get_analyzer("standard"))
    assert [[t.position for t in v] for v in values] == [[0, 1], [2 + POSITION_INCREMENT_GAP]]
    assert values[1][0].start == 0  # offsets stay relative to each value
