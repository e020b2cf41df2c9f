"""dedup.shingles: word n-grams over lowercased \\w+ words."""

from __future__ import annotations

import pytest

from dedup.shingles import shingles


def test_default_is_word_five_grams():
    text = "one two three four five six seven"
    assert shingles(text) == {b"one two three four five", b"two three four five six",
                              b"three four five six seven"}


def test_repeated_ngrams_count_once():
    assert shingles("a b " * 10, n=2) == {b"a b", b"b a"}


def test_case_punctuation_and_whitespace_are_ignored():
    assert shingles("def Foo(bar, baz):\n\treturn BAR+baz") == \
        shingles("def foo bar baz return bar baz")


def test_identifiers_and_any_script_are_words():
    assert shingles("snake_case café 東京 x2", n=4) == {"snake_case café 東京 x2".encode()}


def test_short_document_gives_one_shingle_of_all_its_words():
    assert shingles("Hello, World!") == {b"hello world"}
    assert shingles("x", n=5) == {b"x"}


def test_document_with_exactly_n_words_gives_one_shingle():
    assert shingles("a b c", n=3) == {b"a b c"}


def test_document_without_words_gives_no_shingles():
    assert shingles("") == set()
    assert shingles("{} () => ;\n") == set()


def test_n_below_one_is_rejected():
    with pytest.raises(ValueError, match="at least 1"):
        shingles("a b", n=0)
