"""Word n-gram shingles: the sets whose Jaccard similarity near-dedup estimates.

Algorithm: lowercase the text, take its words as maximal runs of ``\\w`` (Unicode letters,
digits and underscore), and return every run of ``n`` consecutive words as one shingle,
UTF-8 encoded with single spaces between words. ``n = 5`` is the common choice for near
dedup (Lee et al. 2022, "Deduplicating Training Data Makes Language Models Better"; the
BigCode dedup of The Stack): long enough that two unrelated files rarely share a shingle,
short enough that a small edit changes few of them.

Trade-off: dropping punctuation, whitespace and case makes shingles blind to formatting,
re-indentation and renamed capitalisation, which is what near duplicates of code mostly
differ by; the price is that ``a + b`` and ``a - b`` look the same. That is acceptable for
dedup, where a false match between two almost identical files costs one of them.
``\\w`` keeps ``snake_case`` identifiers whole and handles any script, unlike ASCII rules.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 5) -> set[bytes]:
    """The set of word ``n``-grams of ``text`` after normalisation.

    Args:
        text: the document.
        n: words per shingle; default 5. Must be at least 1.

    Returns:
        The distinct shingles, each the UTF-8 bytes of ``n`` lowercased words joined by one
        space. A text with fewer than ``n`` words gives a single shingle of all its words,
        so short documents still get a meaningful signature; a text with no word at all
        gives the empty set (whose MinHash signature equals every other empty one).

    Raises:
        ValueError: ``n`` is below 1.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    words = _WORD.findall(text.lower())
    if not words:
        return set()
    if len(words) < n:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + n]).encode("utf-8") for i in range(len(words) - n + 1)}
