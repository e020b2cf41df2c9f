"""dedup.allpairs: the prefix-filtered join returns exactly the pairs brute force finds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.allpairs import similar_pairs


def brute_force(sets: list[np.ndarray], threshold: float) -> list[tuple[int, int, float]]:
    """Every pair compared with Python sets: slow and obviously right."""
    out = []
    for i, j in itertools.combinations(range(len(sets)), 2):
        a, b = set(sets[i].tolist()), set(sets[j].tolist())
        if a and b and len(a & b) / len(a | b) >= threshold:
            out.append((i, j, len(a & b) / len(a | b)))
    return out


def as_sets(lists: list[list[int]]) -> list[np.ndarray]:
    return [np.unique(np.array(x, dtype=np.uint64)) for x in lists]


# Small universes make overlaps, and so pairs near every threshold, common.
set_lists = st.lists(st.lists(st.integers(0, 30), max_size=25), max_size=14)
thresholds = st.sampled_from([0.1, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0])


@settings(max_examples=300, deadline=None)
@given(set_lists, thresholds)
def test_matches_brute_force_on_random_sets(lists, threshold):
    sets = as_sets(lists)
    assert similar_pairs(sets, threshold) == brute_force(sets, threshold)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40), st.data())
def test_finds_subsets_and_supersets_of_large_hash_values(base, data):
    # Hash values span all 64 bits; subsets test the size filter at its boundary.
    full = sorted(set(base))
    drops = data.draw(st.integers(0, len(full) - 1))
    sets = as_sets([full, full[drops:], [1, 2, 3]])
    for threshold in (0.5, 0.7, 0.9, 1.0):
        assert similar_pairs(sets, threshold) == brute_force(sets, threshold)


def test_threshold_landing_on_an_exact_ratio_is_inclusive():
    # 7/10 == 0.7 as floats, while 0.7 * 10 rounds to 7.000000000000001.
    a = np.arange(10, dtype=np.uint64)
    b = np.arange(7, dtype=np.uint64)
    assert similar_pairs([a, b], 0.7) == [(0, 1, 0.7)]


def test_empty_sets_pair_with_nothing():
    empty = np.array([], dtype=np.uint64)
    assert similar_pairs([empty, empty, np.array([1], dtype=np.uint64), empty], 0.5) == []


def test_identical_sets_pair_at_one():
    s = np.array([5, 9, 11], dtype=np.uint64)
    assert similar_pairs([s, s.copy(), s[::-1].copy()], 1.0) == [
        (0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0)]


def test_threshold_one_excludes_proper_subsets():
    sets = as_sets([[1, 2, 3], [1, 2], [1, 2, 3]])
    assert similar_pairs(sets, 1.0) == [(0, 2, 1.0)]


def test_fewer_than_two_sets_give_no_pairs():
    assert similar_pairs([], 0.7) == []
    assert similar_pairs([np.array([1], dtype=np.uint64)], 0.7) == []


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.01])
def test_threshold_outside_zero_one_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        similar_pairs([np.array([1], dtype=np.uint64)] * 2, threshold)


def test_many_sets_sharing_one_token_are_chunked_correctly(monkeypatch):
    # A posting list longer than a chunk: pairs must not be lost at chunk boundaries.
    monkeypatch.setattr("dedup.allpairs._PAIRS_PER_CHUNK", 7)
    sets = as_sets([[0, i] for i in range(1, 12)] + [[0]])
    assert similar_pairs(sets, 0.5) == brute_force(sets, 0.5)
