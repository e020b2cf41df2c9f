"""Word n-gram shingles, hashed to 64 bits with numpy: the sets near-dedup compares.

Tokenization: lowercase the text (``str.lower``, so any script's case folds), encode it as
UTF-8, and take words as maximal runs of *word bytes*: ASCII letters, digits, ``_`` and every
byte ``>= 0x80``. A shingle is ``n`` consecutive words (``n = 5`` by default, the common
choice for near dedup: Lee et al. 2022, "Deduplicating Training Data Makes Language Models
Better"; the BigCode dedup of The Stack). A text with fewer than ``n`` words has no shingle:
near dedup cannot tell such short texts apart, so they go to exact dedup only.

Dropping punctuation, whitespace and case makes shingles blind to formatting, re-indentation
and changed capitalisation, which is what near duplicates of code mostly differ by; the price
is that ``a + b`` and ``a - b`` look the same, acceptable for dedup. Counting every non-ASCII
byte as a word byte keeps UTF-8 letters (``café``, ``東京``) inside words with no Unicode
tables; unlike Python's ``\\w`` it also keeps non-ASCII punctuation and spaces (``—``, ``…``,
``。``, U+00A0) inside words, so ``a—b`` is one word here and two under ``\\w``.

Hashing, all vectorised over a byte block (no Python loop per word or shingle):

1. Word boundaries come from a byte mask (a few SIMD comparisons) and its edges.
2. A word's hash reads its bytes 8 at a time through an overlapping, unaligned ``uint64`` view
   of the block and shifts out the bytes past the word's end. The first chunk is xored with
   the length times an odd constant; the further chunks of longer words (all of them in one
   vectorised pass) are each mixed with their position by ``fmix64`` and their sum is xored
   in; MurmurHash3's ``fmix64`` finishes the word.
3. A shingle's hash is ``sum_j word[i + j] * C**(n-1-j) mod 2**64`` for a fixed odd ``C``:
   over well-mixed word hashes, two different shingles collide with probability about
   ``2**-64``. Fixed constants make the hashes identical in every process and on every
   machine, as dedup keys must be (Python's ``hash()`` is salted per process).

Batches: ``shingle_hashes_batch`` hashes many texts with one set of numpy calls. The
lowercased texts are joined by one space (a non-word byte, so no word spans two texts) into a
single byte buffer; every word carries the index of its text, and a shingle whose first and
last words belong to different texts is dropped. Only the final sort of each text's shingles is
a call per text. ``shingle_hashes`` is a batch of one.

Cost: about 10 numpy passes over the bytes, a few dozen over the words, and a sort of the
shingles per text: about 150 MB/s on one core here in batches of 256 files. Batching removes
numpy's fixed cost per call (~0.2 ms per text over the ~50 calls), which dominates for files
of a few KB; see ``bench/bench_minhash.py``.

Memory: the joined UTF-8 bytes of the batch (one byte per text byte), the shingles (16 bytes
each with their text's index, a few copies while they are sorted and deduplicated), and
temporaries bounded by ``block_bytes``: the
buffer is hashed in blocks of about ``block_bytes`` bytes, cut between words, with the last
``n - 1`` word hashes (and their text indices) carried into the next block. A block may hold
many small texts or part of a large one; the caller bounds a batch by its bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_BLOCK_BYTES = 1 << 17
"""Bytes hashed per block: bounds the temporaries (about 20 bytes per text byte) to ~3 MiB,
which stay in cache; the fastest size here (2**16 and 2**18 were ~5% slower)."""

_SEPARATOR = b" "
"""Joins the texts of a batch: a non-word byte, so every word lies inside one text."""

_PADDING = bytes(8)
"""Ends the joined buffer so that every 8-byte read starting inside it stays inside it."""

_PROBE_BYTES = 256
"""Bytes examined at a time when looking for the end of a word at a block's end."""

_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_CHUNK_MUL = np.uint64(0x9E3779B97F4A7C15)
_LENGTH_MUL = np.uint64(0xD6E8FEB86659FD93)
_SHINGLE_MUL = np.uint64(0xA0761D6478BD642F)
"""Odd constants (golden ratio, MurmurHash3, wyhash): any odd values with mixed bits do."""


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: a bijection where every input bit flips each output bit.

    Args:
        x: ``np.uint64`` array; not modified.

    Returns:
        A new ``np.uint64`` array of the same shape.
    """
    x = x ^ (x >> np.uint64(33))
    x *= _FMIX_1
    x ^= x >> np.uint64(33)
    x *= _FMIX_2
    x ^= x >> np.uint64(33)
    return x


def _word_mask(block: np.ndarray) -> np.ndarray:
    """Which bytes of a lowercased UTF-8 block are word bytes: ``[a-z0-9_]`` or ``>= 0x80``."""
    return (((block - np.uint8(ord("a"))) < 26) | ((block - np.uint8(ord("0"))) < 10)
            | (block == ord("_")) | (block >= 0x80))


def _word_hashes(buf: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each word of ``buf[lo:hi]`` starts, and its hash, in text order.

    Args:
        buf: ``np.uint8`` bytes with at least 7 readable bytes past ``hi`` (so every 8-byte
            read stays inside the buffer).
        lo: first byte of the block; no word runs across it.
        hi: end of the block; no word runs across it.

    Returns:
        ``(starts, hashes)``: absolute byte offsets (``np.intp``) and ``np.uint64`` hashes.
    """
    edges = np.flatnonzero(np.diff(_word_mask(buf[lo:hi]), prepend=False, append=False))
    starts, lengths = edges[0::2], edges[1::2] - edges[0::2]
    # An overlapping little-endian uint64 view: element i holds bytes lo + i .. lo + i + 7.
    windows = np.ndarray(shape=(hi - lo,), dtype="<u8", buffer=buf, offset=lo, strides=(1,))
    h = lengths.view(np.uint64) * _LENGTH_MUL ^ _first_bytes(windows[starts], lengths)
    longer = np.flatnonzero(lengths > 8)
    if len(longer):
        # All further 8-byte chunks of all longer words at once (one pass, however long).
        extra = (lengths[longer] - 1) >> 3  # chunks after the first, per longer word
        first = np.cumsum(extra) - extra  # where each word's chunks start in the flat list
        owner = np.repeat(longer, extra)
        number = np.arange(1, len(owner) + 1) - np.repeat(first, extra)  # 1, 2, ... per word
        offset = number << 3
        chunks = _first_bytes(windows[starts[owner] + offset], lengths[owner] - offset)
        # Position-keyed mixing makes the sum order-sensitive: "ab" and "ba" differ.
        mixed = fmix64(chunks + number.view(np.uint64) * _CHUNK_MUL)
        h[longer] ^= np.add.reduceat(mixed, first)
    return starts + lo, fmix64(h)


def _first_bytes(chunk: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Keep the first ``left`` (at most 8) bytes of each little-endian 8-byte ``chunk``.

    The bytes past them belong to the following text; they are shifted out of the top.
    """
    chunk <<= (np.uint64(8) - np.minimum(left, 8).view(np.uint64)) << np.uint64(3)
    return chunk


def _shingles_of_words(words: np.ndarray, owners: np.ndarray,
                       n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every run of ``n`` consecutive words of one text, and that text's index.

    Args:
        words: word hashes in text order.
        owners: the index of each word's text, non-decreasing.
        n: words per shingle.

    Returns:
        ``(hashes, owners)`` of the runs that lie inside one text; empty when none does.
    """
    count = len(words) - n + 1
    if count <= 0:
        return np.empty(0, np.uint64), np.empty(0, np.intp)
    out = words[:count].copy()
    for j in range(1, n):
        out *= _SHINGLE_MUL
        out += words[j:j + count]
    inside = owners[:count] == owners[n - 1:]  # owners only grow: first == last means one text
    # np.compress: faster than a boolean index when the mask is mostly true
    return np.compress(inside, out), np.compress(inside, owners[:count])


def _block_end(buf: np.ndarray, lo: int, end: int, block_bytes: int) -> int:
    """End of the block starting at ``lo``: about ``block_bytes`` on, never inside a word.

    Args:
        buf: the bytes.
        lo: start of the block.
        end: end of the bytes to hash (``buf`` may hold padding past it).
        block_bytes: the block's target size.
    """
    hi = lo + block_bytes
    # A word may run across ``hi``: move the end past it, probing a few bytes at a time.
    while hi < end:
        breaks = np.flatnonzero(~_word_mask(buf[hi:min(hi + _PROBE_BYTES, end)]))
        if len(breaks):
            return hi + int(breaks[0])
        hi += _PROBE_BYTES
    return end


def _distinct_sorted(hashes: np.ndarray, owners: np.ndarray, count: int) -> list[np.ndarray]:
    """Each text's shingle hashes as a sorted set.

    Args:
        hashes: every text's shingle hashes, text after text; sorted in place, text by text.
        owners: the index of each hash's text, non-decreasing.
        count: the number of texts.

    Returns:
        ``count`` consecutive views of one new array.
    """
    bounds = np.searchsorted(owners, np.arange(count + 1)).tolist()
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        hashes[lo:hi].sort()
    # A hash is kept when it differs from its predecessor or starts its text.
    first = np.ones(len(hashes), bool)
    np.not_equal(hashes[1:], hashes[:-1], out=first[1:])
    first[1:] |= owners[1:] != owners[:-1]
    distinct = np.compress(first, hashes)
    kept = np.searchsorted(np.compress(first, owners), np.arange(count + 1)).tolist()
    return [distinct[lo:hi] for lo, hi in zip(kept[:-1], kept[1:])]


def shingle_hashes_batch(texts: Sequence[str], n: int = 5, *,
                         block_bytes: int = _BLOCK_BYTES) -> list[np.ndarray]:
    """The hashed word ``n``-gram shingles of each text, with one set of numpy calls for all.

    Equal, text by text, to ``shingle_hashes``; much faster on many small texts (see the
    module docstring).

    Args:
        texts: the documents; any number, empty ones included. The caller bounds a batch's
            memory by its total size (see the module docstring), e.g. a few MB of text.
        n: words per shingle; default 5. Must be at least 1.
        block_bytes: bytes of UTF-8 text hashed at a time; bounds the temporaries, never
            changes the result. Must be at least 1.

    Returns:
        One array per text, in order: that text's distinct shingle hashes, ``np.uint64``,
        sorted ascending. Empty for a text with fewer than ``n`` words. The arrays are
        consecutive views of one array, so a batch's hashes are freed together.

    Raises:
        ValueError: ``n`` or ``block_bytes`` is below 1.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if block_bytes < 1:
        raise ValueError(f"block_bytes must be at least 1, got {block_bytes}")
    if not texts:
        return []
    encoded = [text.lower().encode("utf-8") for text in texts]
    # Text i starts at text_starts[i] of the joined bytes.
    sizes = np.fromiter(map(len, encoded), np.intp, len(encoded)) + len(_SEPARATOR)
    text_starts = np.cumsum(sizes) - sizes
    buf = np.frombuffer(_SEPARATOR.join([*encoded, _PADDING]), np.uint8)
    end = len(buf) - len(_PADDING)
    parts, part_owners = [], []
    # The last n - 1 words of the previous block, and their texts.
    carry, carry_owners = np.empty(0, np.uint64), np.empty(0, np.intp)
    lo = 0
    while lo < end:
        hi = _block_end(buf, lo, end, block_bytes)
        starts, hashes = _word_hashes(buf, lo, hi)
        # The texts [first, last) overlap the block; each owns the words starting in it.
        first, last = np.searchsorted(text_starts, [lo, hi], side="right") - [1, 0]
        per_text = np.diff(np.searchsorted(starts, text_starts[first:last]), append=len(starts))
        words = np.concatenate([carry, hashes])
        owners = np.concatenate([carry_owners, np.repeat(np.arange(first, last), per_text)])
        shingles, shingle_owners = _shingles_of_words(words, owners, n)
        parts.append(shingles)
        part_owners.append(shingle_owners)
        keep = max(0, len(words) - (n - 1))
        carry, carry_owners = words[keep:], owners[keep:]
        lo = hi
    return _distinct_sorted(np.concatenate(parts), np.concatenate(part_owners), len(texts))


def shingle_hashes(text: str, n: int = 5, *, block_bytes: int = _BLOCK_BYTES) -> np.ndarray:
    """The hashed word ``n``-gram shingles of ``text``, as a sorted set.

    A batch of one: see ``shingle_hashes_batch`` for many texts.

    Args:
        text: the document.
        n: words per shingle; default 5. Must be at least 1.
        block_bytes: bytes of UTF-8 text hashed at a time; bounds memory, never changes the
            result. Must be at least 1.

    Returns:
        A 1-D ``np.uint64`` array of the distinct shingle hashes, sorted ascending. Empty
        when the text has fewer than ``n`` words (see the module docstring).

    Raises:
        ValueError: ``n`` or ``block_bytes`` is below 1.
    """
    return shingle_hashes_batch([text], n, block_bytes=block_bytes)[0]
