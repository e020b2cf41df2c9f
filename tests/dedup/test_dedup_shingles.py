"""dedup.shingles: hashed word n-grams over lowercased runs of word bytes."""

from __future__ import annotations

import pathlib
import re
import sysconfig

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.shingles import shingle_hashes, shingle_hashes_batch

STDLIB = pathlib.Path(sysconfig.get_paths()["stdlib"])
# The documented tokenization in Python: word bytes are [0-9a-z_] and every non-ASCII character.
WORD = re.compile(r"(?:[0-9a-z_]|[^\x00-\x7f])+")


def reference_shingles(text: str, n: int) -> set[str]:
    words = WORD.findall(text.lower())
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def same(a: str, b: str, n: int = 5) -> bool:
    return np.array_equal(shingle_hashes(a, n), shingle_hashes(b, n))


def test_hashes_are_sorted_distinct_uint64():
    hashes = shingle_hashes("a b c d e f g a b c d e f g", n=3)
    assert hashes.dtype == np.uint64
    assert np.all(hashes[1:] > hashes[:-1])
    assert len(hashes) == 7  # "a b c" ... "g a b": the repeat adds one new shingle


def test_default_is_word_five_grams():
    assert len(shingle_hashes("one two three four five six seven")) == 3


def test_text_with_fewer_than_n_words_has_no_shingles():
    assert len(shingle_hashes("Hello, World!")) == 0
    assert len(shingle_hashes("a b c d", n=5)) == 0
    assert len(shingle_hashes("")) == 0
    assert len(shingle_hashes("{} () => ;\n")) == 0


def test_text_with_exactly_n_words_has_one_shingle():
    assert len(shingle_hashes("a b c", n=3)) == 1


def test_case_punctuation_and_whitespace_are_ignored():
    assert same("def Foo(bar, baz):\n\treturn BAR+baz", "def foo bar baz return bar baz")


def test_indentation_and_line_breaks_are_ignored():
    assert same("if x:\n    return y\nelse:\n    return z", "if x: return y else: return z")


def test_word_order_matters():
    assert not same("a b c", "c b a", n=3)


def test_identifiers_digits_and_unicode_letters_are_words():
    assert len(shingle_hashes("snake_case café 東京 x2", n=4)) == 1
    assert not same("café x", "cafe x", n=2)


def test_unicode_case_folds():
    assert same("CAFÉ ÜBER", "café über", n=2)


def test_non_ascii_punctuation_stays_inside_words_unlike_backslash_w():
    # "a—b" is one word here (every byte >= 0x80 is a word byte), two words under \w.
    assert len(shingle_hashes("a—b c", n=2)) == 1


def test_long_words_are_hashed_whole():
    assert not same("abcdefghijklmnopq x", "abcdefghijklmnopr x", n=2)
    assert not same("aaaaaaaabbbbbbbb x", "bbbbbbbbaaaaaaaa x", n=2)


def test_one_grams_are_the_distinct_words():
    assert len(shingle_hashes("b a b c a", n=1)) == 3


@pytest.mark.parametrize("name", ["difflib.py", "_pydecimal.py", "tarfile.py"])
def test_shingle_count_matches_a_python_reference_on_real_files(name):
    # Same tokenization and no hash collisions: as many hashes as distinct shingle strings.
    text = (STDLIB / name).read_text(encoding="utf-8")
    for n in (1, 5):
        assert len(shingle_hashes(text, n)) == len(reference_shingles(text, n))


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 4096])
def test_block_size_never_changes_the_result(block_bytes):
    text = (STDLIB / "difflib.py").read_text(encoding="utf-8")[:20_000]
    text += " " + "x" * 300 + " tail words of the text"  # a word longer than a block
    assert np.array_equal(shingle_hashes(text, block_bytes=block_bytes), shingle_hashes(text))


def test_hash_values_are_pinned():
    # Dedup keys must not drift between versions: these are the values since issue 6.
    hashes = shingle_hashes("def Foo(bar):\n    return bar + 1  # café 東京 x", 3)
    assert [hex(h) for h in hashes.tolist()] == [
        "0x3fe60330e606f86e", "0x496ce98672c3c946", "0x4e74432fa6557a20", "0x5fd8597b0baa9b06",
        "0x643db5d58bfb3ed1", "0xc612bd314cf63170", "0xda1daecf101e87e5"]


MIXED = ["", "Hello, World!", "a b c d", (STDLIB / "difflib.py").read_text(encoding="utf-8"),
         "one two three four five six", "   ", "ÉTÉ café 東京 — naïve x y z", "x" * 300,
         (STDLIB / "tarfile.py").read_text(encoding="utf-8")[:5_000], "a b c d e", ""]


@pytest.mark.parametrize("n", [1, 3, 5])
@pytest.mark.parametrize("block_bytes", [7, 4096, 1 << 17])
def test_batch_equals_each_text_alone(n, block_bytes):
    # Huge and tiny texts, empty ones, short ones, unicode; blocks that cut across texts.
    batch = shingle_hashes_batch(MIXED, n, block_bytes=block_bytes)
    assert len(batch) == len(MIXED)
    for text, hashes in zip(MIXED, batch):
        assert np.array_equal(hashes, shingle_hashes(text, n))


def test_shingles_never_span_two_texts():
    # Joined, each pair would make shingles; apart, each text is too short for one.
    batch = shingle_hashes_batch(["one two three", "four five six", "seven", "eight nine"], n=4)
    assert [len(hashes) for hashes in batch] == [0, 0, 0, 0]


def test_identical_neighbouring_texts_each_keep_their_shingles():
    assert [len(hashes) for hashes in shingle_hashes_batch(["a b c", "a b c"], n=3)] == [1, 1]


def test_empty_batch_gives_no_arrays():
    assert shingle_hashes_batch([]) == []
    assert [len(h) for h in shingle_hashes_batch(["", ""])] == [0, 0]


WORDS = st.sampled_from(["a", "b", "café", "x_1", "東", "Σ", "def", "", " ", "\n", ",", "—"])


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.lists(WORDS, max_size=12).map(" ".join), max_size=8),
       n=st.integers(1, 4), block_bytes=st.integers(1, 40))
def test_batch_equals_each_text_alone_on_random_texts(texts, n, block_bytes):
    batch = shingle_hashes_batch(texts, n, block_bytes=block_bytes)
    assert all(np.array_equal(hashes, shingle_hashes(text, n))
               for text, hashes in zip(texts, batch, strict=True))


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="n must be at least 1"):
        shingle_hashes("a b", n=0)
    with pytest.raises(ValueError, match="block_bytes"):
        shingle_hashes("a b", block_bytes=0)
    with pytest.raises(ValueError, match="n must be at least 1"):
        shingle_hashes_batch(["a b"], n=0)
