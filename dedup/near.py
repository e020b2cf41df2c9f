"""Near-duplicate clusters: the pure steps the Beam pipeline runs, and an in-memory
reference that composes them over a whole (small) corpus.

Steps (Broder 1997; Leskovec et al., *Mining of Massive Datasets* ch. 3; verification as in
Lee et al. 2022 and the BigCode dedup):

1. shingle hashes and a MinHash signature per document (``dedup.shingles``,
   ``dedup.minhash``); a document with fewer words than a shingle has no signature and is
   deduplicated exactly only, so short documents never collapse into one cluster;
2. band keys (``dedup.lsh``): documents sharing a key share a bucket;
3. candidate pairs per bucket (``bucket_pairs``): every pair in a small bucket, a star from
   the best-ranked member in a large one, so a bucket of ``m`` members costs at most
   ``max(m - 1, MAX_ALL_PAIRS_MEMBERS**2 / 2)`` pairs, never ``m**2``;
4. verification: a pair joins the graph only when its exact Jaccard (or
   the signature estimate) reaches the threshold; LSH alone admits pairs far below it;
5. connected components of the confirmed graph (``dedup.components``), one cluster each;
6. the keeper of a cluster is its best by ``dedup.rank`` order; every other member is a
   near duplicate. A member whose own Jaccard with the keeper (measured as step 4 measures
   it: exact, or the signature estimate) is below the threshold was merged through a chain
   of confirmed pairs (A~B, B~C, A!~C): it is counted as ``chained``, and with
   ``bound_chaining`` released (kept, in a cluster of its own).

Trade-off of 3: in a bucket of more than ``MAX_ALL_PAIRS_MEMBERS`` two non-central members
are paired only through the centre; when neither is similar enough to the centre, the pair
is found only if it shares another band. Such buckets are mostly true duplicate clusters,
where the star loses nothing, but boilerplate (a shared license header and layout) also
makes them: on the installed site-packages, 9 buckets exceeded 16 members (the largest 78)
and one true pair was lost inside a bucket of 38 at a limit of 16; hence 64, which costs at
most 2,016 pairs per bucket.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from dedup.components import connected_components
from dedup.lsh import band_keys
from dedup.minhash import exact_jaccard, jaccard

MAX_ALL_PAIRS_MEMBERS = 64
"""Buckets up to this size give every pair as a candidate; larger ones a star."""


def bucket_pairs(members: Iterable[tuple[Any, str]]) -> Iterator[tuple[str, str]]:
    """Candidate pairs of one LSH bucket.

    Args:
        members: ``(rank, id)`` of the bucket's documents, in any order; repeats allowed.

    Returns:
        ``(a, b)`` id pairs: every pair when the bucket holds at most
        ``MAX_ALL_PAIRS_MEMBERS`` documents, else the best-ranked member paired with each
        other one. Within a pair ``a`` ranks before ``b``.
    """
    ordered = [doc_id for _, doc_id in sorted(set(members))]
    if len(ordered) <= MAX_ALL_PAIRS_MEMBERS:
        yield from itertools.combinations(ordered, 2)
    else:
        yield from ((ordered[0], other) for other in ordered[1:])


@dataclasses.dataclass(frozen=True, slots=True)
class Membership:
    """Where a clustered document stands.

    Attributes:
        cluster: the cluster's id: the smallest document id in it.
        size: documents in the cluster (after releasing chained members, when bounded).
        kept: True for the keeper; the other members are near duplicates.
        chained: its Jaccard with the keeper is below the threshold.
    """

    cluster: str
    size: int
    kept: bool
    chained: bool = False


def keepers(labels: dict[str, str], ranks: dict[str, Any]) -> dict[str, str]:
    """Component label -> its keeper: the member with the smallest ``(rank, id)``."""
    best: dict[str, str] = {}
    for doc_id, label in labels.items():
        if label not in best or (ranks[doc_id], doc_id) < (ranks[best[label]], best[label]):
            best[label] = doc_id
    return best


def memberships(labels: dict[str, str], ranks: dict[str, Any],
                keeper_similarity: dict[str, float], threshold: float,
                bound_chaining: bool) -> dict[str, Membership]:
    """Clusters from component labels: keeper, sizes and chaining.

    Args:
        labels: document id -> component label (``dedup.components`` output).
        ranks: document id -> ``dedup.rank.rank_key``; the smallest is kept.
        keeper_similarity: document id -> its Jaccard with its cluster's keeper (members
            other than keepers; missing means "not measured": not chained).
        threshold: the near-duplicate threshold.
        bound_chaining: release chained members into clusters of their own.

    Returns:
        A ``Membership`` for every labelled document.
    """
    clusters: dict[str, list[str]] = {}
    for doc_id, label in labels.items():
        clusters.setdefault(label, []).append(doc_id)
    best = keepers(labels, ranks)
    out: dict[str, Membership] = {}
    for label, members in clusters.items():
        keeper = best[label]
        chained = {m for m in members
                   if m != keeper and keeper_similarity.get(m, 1.0) < threshold}
        size = len(members) - (len(chained) if bound_chaining else 0)
        for m in members:
            if bound_chaining and m in chained:
                out[m] = Membership(m, 1, True, True)
            else:
                out[m] = Membership(label, size, m == keeper, m in chained)
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    """What near dedup needs of a document: id, keep-rank, shingle hashes, signature."""

    id: str
    rank: Any
    hashes: np.ndarray
    signature: np.ndarray


@dataclasses.dataclass(frozen=True, slots=True)
class NearResult:
    """The outcome of near dedup over a corpus.

    Attributes:
        members: document id -> ``Membership``, for documents in a cluster of 2 or more.
        candidates: distinct candidate pairs LSH produced.
        rejected: candidate pairs verification rejected.
    """

    members: dict[str, Membership]
    candidates: int
    rejected: int


def near_duplicates(docs: Sequence[Document], *, threshold: float, bands: int, rows: int,
                    verify: str = "exact", bound_chaining: bool = False) -> NearResult:
    """Near-duplicate clusters of a corpus held in memory (the pipeline's reference).

    Args:
        docs: the documents; those with empty ``hashes`` (fewer words than a shingle) take
            no part.
        threshold: Jaccard similarity at which documents are near duplicates.
        bands: LSH bands; ``rows``: rows per band (``DedupSpec.lsh_params``).
        verify: ``exact`` (shingle hash sets) or ``signature`` (MinHash estimate).
        bound_chaining: release members below ``threshold`` to their keeper (measured as
            ``verify`` says, as the pipeline measures it).

    Returns:
        The clusters with their keepers, and the candidate and rejected pair counts.
    """
    by_id = {d.id: d for d in docs if d.hashes.size}
    buckets: dict[tuple[int, bytes], list[tuple[Any, str]]] = {}
    for doc in by_id.values():
        for key in band_keys(doc.signature, bands, rows):
            buckets.setdefault(key, []).append((doc.rank, doc.id))
    pairs = {pair for members in buckets.values() if len(members) > 1
             for pair in bucket_pairs(members)}
    measure = exact_jaccard if verify == "exact" else jaccard
    field = "hashes" if verify == "exact" else "signature"

    def similarity(a: str, b: str) -> float:
        return measure(getattr(by_id[a], field), getattr(by_id[b], field))

    edges = [(a, b) for a, b in sorted(pairs) if similarity(a, b) >= threshold]
    labels = connected_components(edges)
    ranks = {d: by_id[d].rank for d in labels}
    best = keepers(labels, ranks)
    to_keeper = {m: similarity(m, best[lb]) for m, lb in labels.items() if m != best[lb]}
    return NearResult(memberships(labels, ranks, to_keeper, threshold, bound_chaining),
                      len(pairs), len(pairs) - len(edges))
