"""dedup.minhash: signatures agree with datasketch and estimate Jaccard within tolerance."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash

from dedup.minhash import jaccard, signature
from dedup.shingles import shingles


def exact_jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def overlapping_pair(rng: random.Random, shared: int, own: int) -> tuple[str, str]:
    """Two random-word documents sharing a middle run of ``shared`` words, ``own`` each else."""
    def words(n: int) -> list[str]:
        return [f"w{rng.randrange(100_000)}" for _ in range(n)]

    middle = words(shared)
    return (" ".join(words(own // 2) + middle + words(own - own // 2)),
            " ".join(words(own // 2) + middle + words(own - own // 2)))


def test_signature_is_uint32_of_num_perm_values():
    sig = signature({b"a", b"b"}, num_perm=64)
    assert sig.dtype == np.uint32 and sig.shape == (64,)


def test_signature_equals_datasketch_minhash():
    shingle_set = shingles("the quick brown fox jumps over the lazy dog " * 3, n=3)
    reference = MinHash(num_perm=256, seed=1)
    reference.update_batch(shingle_set)
    assert np.array_equal(signature(shingle_set), reference.hashvalues)


def test_large_sets_are_chunked_without_changing_the_signature():
    big = {f"s{i}".encode() for i in range(10_000)}
    reference = MinHash(num_perm=128, seed=7)
    reference.update_batch(list(big))
    assert np.array_equal(signature(big, num_perm=128, seed=7), reference.hashvalues)


def test_signature_does_not_depend_on_order_or_repeats():
    items = [f"s{i}".encode() for i in range(50)]
    assert np.array_equal(signature(items), signature(list(reversed(items)) + items[:10]))


def test_seed_chooses_the_permutations():
    assert not np.array_equal(signature({b"a", b"b"}, seed=1), signature({b"a", b"b"}, seed=2))


def test_empty_set_gives_the_all_max_signature():
    assert np.all(signature(set(), num_perm=16) == np.uint32(2**32 - 1))


@pytest.mark.parametrize("shared", [20, 60, 120, 200, 300, 500, 1000, 2500])
def test_estimate_is_close_to_exact_jaccard_and_equals_datasketch(shared):
    rng = random.Random(shared)
    text_a, text_b = overlapping_pair(rng, shared=shared, own=120)
    set_a, set_b = shingles(text_a), shingles(text_b)
    estimate = jaccard(signature(set_a), signature(set_b))
    assert abs(estimate - exact_jaccard(set_a, set_b)) <= 0.08

    mh_a, mh_b = MinHash(num_perm=256, seed=1), MinHash(num_perm=256, seed=1)
    mh_a.update_batch(set_a)
    mh_b.update_batch(set_b)
    assert estimate == mh_a.jaccard(mh_b)


def test_overlap_pairs_span_the_similarity_range():
    # Guards the parametrisation above: it must cover low, middle and high similarity.
    exact = []
    for shared in (20, 2500):
        a, b = overlapping_pair(random.Random(shared), shared=shared, own=120)
        exact.append(exact_jaccard(shingles(a), shingles(b)))
    assert exact[0] < 0.1 and exact[1] > 0.9


def test_identical_and_disjoint_sets():
    sig = signature({b"x", b"y"})
    assert jaccard(sig, sig.copy()) == 1.0
    assert jaccard(signature({b"a"}), signature({b"b"})) < 0.05


def test_jaccard_rejects_different_lengths():
    with pytest.raises(ValueError, match="length"):
        jaccard(signature({b"a"}, num_perm=8), signature({b"a"}, num_perm=16))
