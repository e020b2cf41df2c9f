"""Exact all-pairs similarity join: every pair of sets whose Jaccard similarity reaches a
threshold, with no approximation. It is the ground truth that near dedup (MinHash, LSH,
verification) is measured against, and small enough to run on tens of thousands of files.

Algorithm: prefix filtering (Chaudhuri, Ganti, Kaushik 2006, "A primitive operator for
similarity joins in data cleaning"; Bayardo, Ma, Srikant 2007, "Scaling up all pairs
similarity search", the AllPairs algorithm without its weighting):

1. Order all tokens by global frequency, rarest first (ties by value), and sort every set
   in that order.
2. A set ``x`` needs at least ``o(x)`` tokens in common with any partner: the smallest
   ``o`` with ``o / |x| >= t``, since ``|x & y| / |x| >= |x & y| / |x | y| >= t``. Its
   *prefix* is its first ``|x| - o(x) + 1`` tokens in the global order.
3. Candidates are the pairs whose prefixes share a token (an inverted index over prefixes),
   and that pass the size filter ``min(|x|, |y|) / max(|x|, |y|) >= t`` (Jaccard is at most
   that ratio).
4. Each candidate is verified by its exact Jaccard (``dedup.minhash.exact_jaccard``, the
   function near dedup verifies with, so both agree to the last bit at the threshold).

Why it is exact: take a pair with Jaccard ``>= t`` and let ``w`` be the first of their
common tokens in the global order. All ``|x & y| >= o(x)`` common tokens sit at or after
``w`` in ``x``, so ``w`` is within the first ``|x| - o(x) + 1`` tokens of ``x``: its prefix;
likewise for ``y``. So the prefixes share ``w``, the pair is a candidate, and step 4 keeps
it. ``o`` and the size filter are evaluated with the same float division as the final
``intersection / union >= t`` test; correctly rounded division is monotone, so neither
filter drops a pair that the final test would accept, even at ``t`` values like 0.7 that
floats cannot represent.

Cost and trade-off: rarest-first order puts the tokens that few sets share into the
prefixes, so most prefix tokens have a posting list of one and give no candidate; near
duplicates share rare tokens and are found, unrelated sets rarely are. At ``t = 0.7`` a
prefix is 30% of its set. Sets made only of very common tokens (boilerplate) can still make
long posting lists, whose candidate pairs are quadratic in their length; positional and
suffix filters (Xiao et al. 2008, PPJoin+) would prune more, and are not needed at the
scale this serves (measured by ``bench/bench_dedup_quality.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from dedup.minhash import exact_jaccard

_PAIRS_PER_CHUNK = 4_000_000
"""Candidate pairs materialised at a time (two int64 arrays: 64 MB)."""


def _min_overlap(sizes: np.ndarray, threshold: float) -> np.ndarray:
    """Per size ``n``: the smallest ``o`` with ``o / n >= threshold`` in float division.

    ``ceil(threshold * n)`` can be off by one either way through rounding (``0.7 * 10`` is
    ``7.000000000000001``), so it is corrected against the division the final test uses.
    """
    n = sizes.astype(np.float64)
    o = np.ceil(threshold * n)
    o = np.where((o - 1) / n >= threshold, o - 1, o)
    o = np.where(o / n < threshold, o + 1, o)
    return o.astype(np.int64)


def _ranked(sets: Sequence[np.ndarray], members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sets ``members`` as token ranks (rarest first), each sorted, concatenated.

    Returns:
        ``(ranks, owner)``: one entry per token occurrence, grouped by set in the order of
        ``members`` and ascending within a set; ``owner`` is the index into ``members``.
    """
    sizes = np.array([len(sets[i]) for i in members], dtype=np.int64)
    tokens = np.concatenate([np.asarray(sets[i], dtype=np.uint64) for i in members])
    values, inverse, counts = np.unique(tokens, return_inverse=True, return_counts=True)
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.lexsort((values, counts))] = np.arange(len(values))
    owner = np.repeat(np.arange(len(members)), sizes)
    ranks = rank[inverse.ravel()]
    order = np.lexsort((ranks, owner))
    return ranks[order], owner


def _prefix_pairs(token: np.ndarray, owner: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every pair of owners that share a token, in chunks, each pair once per shared token.

    Args:
        token: prefix tokens, sorted; ``owner``: their sets, ascending within equal tokens.

    Returns:
        Chunks of ``(a, b)`` owner arrays with ``a < b``.
    """
    starts = np.flatnonzero(np.r_[True, token[1:] != token[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(token)]))
    earlier = np.arange(len(token)) - group_start  # members before this one in its group
    ends = np.cumsum(earlier)
    lo = 0
    while lo < len(token):
        hi = int(np.searchsorted(ends, ends[lo] - earlier[lo] + _PAIRS_PER_CHUNK, "right"))
        hi = max(hi, lo + 1)
        counts = earlier[lo:hi]
        right = np.repeat(np.arange(lo, hi), counts)
        offset = np.arange(len(right)) - np.repeat(np.cumsum(counts) - counts, counts)
        left = np.repeat(group_start[lo:hi], counts) + offset
        yield owner[left], owner[right]
        lo = hi


def similar_pairs(sets: Sequence[np.ndarray], threshold: float) -> list[tuple[int, int, float]]:
    """Every pair of sets whose exact Jaccard similarity is at least ``threshold``.

    Args:
        sets: the sets, each a 1-D array of distinct unsigned integers (shingle hashes,
            ``dedup.shingles``), sorted or not. An empty set pairs with nothing: an empty
            document has no shingles to be similar by (short documents go to exact dedup).
        threshold: the Jaccard similarity a pair must reach, in ``(0, 1]``; the lower it
            is, the longer the prefixes and the more candidates to verify.

    Returns:
        ``(i, j, jaccard)`` for every qualifying pair of indices into ``sets``, ``i < j``,
        sorted; ``jaccard`` is ``|intersection| / |union|`` as a float, and the pair is
        included exactly when that float is ``>= threshold``.

    Raises:
        ValueError: ``threshold`` is outside ``(0, 1]``.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    members = np.array([i for i, s in enumerate(sets) if len(s)], dtype=np.int64)
    if len(members) < 2:
        return []
    ranks, owner = _ranked(sets, members)
    sizes = np.bincount(owner, minlength=len(members))
    starts = np.cumsum(sizes) - sizes
    prefix = sizes - _min_overlap(sizes, threshold) + 1
    in_prefix = np.arange(len(ranks)) - starts[owner] < prefix[owner]
    token, holder = ranks[in_prefix], owner[in_prefix]
    order = np.lexsort((holder, token))
    keys = []
    for a, b in _prefix_pairs(token[order], holder[order]):
        small, large = np.minimum(sizes[a], sizes[b]), np.maximum(sizes[a], sizes[b])
        keep = small / large >= threshold
        keys.append(np.unique(a[keep] * len(members) + b[keep]))
    candidates = np.unique(np.concatenate(keys))
    out = []
    for a, b in zip((candidates // len(members)).tolist(), (candidates % len(members)).tolist()):
        x = ranks[starts[a]:starts[a] + sizes[a]]
        y = ranks[starts[b]:starts[b] + sizes[b]]
        similarity = exact_jaccard(x, y)
        if similarity >= threshold:
            out.append((int(members[a]), int(members[b]), similarity))
    return out
