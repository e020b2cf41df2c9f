"""The pure steps of near dedup: bucket pairs, verification, memberships, the reference."""

from __future__ import annotations

import random

from dedup.minhash import exact_jaccard, signature
from dedup.near import (MAX_ALL_PAIRS_MEMBERS, Document, Membership, bucket_pairs, keepers,
                        memberships, near_duplicates)
from dedup.shingles import shingle_hashes

WORDS = [f"w{i}" for i in range(2000)]


def test_small_bucket_gives_every_pair_in_rank_order():
    members = [((2,), "c"), ((1,), "b"), ((0,), "a"), ((1,), "b")]
    assert list(bucket_pairs(members)) == [("a", "b"), ("a", "c"), ("b", "c")]


def test_large_bucket_gives_a_star_from_the_best_ranked_member():
    members = [((i,), f"d{i:03d}") for i in range(MAX_ALL_PAIRS_MEMBERS + 5)][::-1]
    pairs = list(bucket_pairs(members))
    assert len(pairs) == MAX_ALL_PAIRS_MEMBERS + 4
    assert all(a == "d000" for a, _ in pairs)


def test_reference_joins_a_pair_at_the_threshold_and_not_below_it():
    rng = random.Random(1)
    base = [rng.choice(WORDS) for _ in range(300)]
    a, b = _doc("a", base), _doc("b", base[:250] + rng.sample(WORDS, 50))
    similarity = exact_jaccard(a.hashes, b.hashes)
    at = near_duplicates([a, b], threshold=similarity, bands=64, rows=4).members
    above = near_duplicates([a, b], threshold=similarity + 1e-9, bands=64, rows=4).members
    assert at["b"] == Membership("a", 2, False) and above == {}


def test_keeper_is_the_best_rank_then_the_smallest_id():
    labels = {"a": "a", "b": "a", "c": "a", "x": "x", "y": "x"}
    ranks = {"a": (1,), "b": (0,), "c": (0,), "x": (5,), "y": (5,)}
    assert keepers(labels, ranks) == {"a": "b", "x": "x"}


def test_chained_members_are_counted_and_released_only_when_bounded():
    labels = {"a": "a", "b": "a", "c": "a"}
    ranks = {"a": (0,), "b": (1,), "c": (2,)}
    to_keeper = {"b": 0.8, "c": 0.4}  # c joined through b
    loose = memberships(labels, ranks, to_keeper, 0.7, bound_chaining=False)
    assert loose == {"a": Membership("a", 3, True), "b": Membership("a", 3, False),
                     "c": Membership("a", 3, False, chained=True)}
    bounded = memberships(labels, ranks, to_keeper, 0.7, bound_chaining=True)
    assert bounded == {"a": Membership("a", 2, True), "b": Membership("a", 2, False),
                       "c": Membership("c", 1, True, chained=True)}


def _edited(rng: random.Random, words: list[str], rate: float) -> list[str]:
    return [rng.choice(WORDS) if rng.random() < rate else w for w in words]


def _doc(doc_id: str, words: list[str]) -> Document:
    hashes = shingle_hashes(" ".join(words), 5)
    return Document(doc_id, (0, doc_id), hashes, signature(hashes, 256, 1))


def test_reference_clusters_verified_copies_and_rejects_lsh_candidates_below_threshold():
    rng = random.Random(0)
    base = [rng.choice(WORDS) for _ in range(400)]
    docs = [_doc("base", base), _doc("close", _edited(rng, base, 0.02)),
            _doc("far", _edited(rng, base, 0.12)), _doc("other", rng.sample(WORDS, 400))]
    result = near_duplicates(docs, threshold=0.7, bands=36, rows=7)
    truth = {d.id: exact_jaccard(docs[0].hashes, d.hashes) for d in docs[1:]}
    assert truth["close"] > 0.7 > truth["far"]
    assert result.members["close"] == Membership("base", 2, False)
    assert result.members["base"].kept and "far" not in result.members
    assert result.rejected == result.candidates - 1


def test_short_documents_never_cluster():
    docs = [_doc(f"s{i}", ["just", "four", "words", str(i % 2)]) for i in range(10)]
    assert all(d.hashes.size == 0 for d in docs)
    assert near_duplicates(docs, threshold=0.7, bands=36, rows=7).members == {}
