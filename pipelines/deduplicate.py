"""Exact and near deduplication as Beam transforms over the pure steps of ``dedup/``.

Exact dedup groups records by the sha256 of their text and keeps the best-ranked copy.
Near dedup runs on the exact survivors that have shingles (documents with fewer words than
a shingle are deduplicated exactly only): band buckets give candidate pairs
(``dedup.near.bucket_pairs``), each pair is verified on the two documents' shingle hashes
(or signatures) before it becomes an edge, the connected components of the confirmed edges
are found in rounds on the runner (``pipelines.clustering``), and each cluster keeps its
best member by ``dedup.rank`` order. Every member is also compared with its keeper, which
measures (and with ``bound_chaining`` undoes) merges made through chains of pairs.

No step holds more than one group: a bucket, one document's pairs, one cluster's members
(ids and ranks, not texts). Payloads (shingle hashes) travel to pairs through joins keyed
by document id, never as a side input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np

from dedup.lsh import band_keys
from dedup.minhash import exact_jaccard, jaccard, signatures
from dedup.near import Membership, bucket_pairs, keepers, memberships
from dedup.rank import RANK_PREFIX_BYTES, rank_bytes, rank_key
from dedup.shingles import shingle_hashes_batch
from pipelines.accounting import Drop
from pipelines.clustering import ConnectedComponents
from pipelines.config import DedupSpec
from pipelines.licenses import license_tier
from pipelines.records import Record, content_hash
from pipelines.runners import buffers_waiting_input
from pipelines.stage import DROPPED, ApplyStage
from pipelines.timing import Timed

CLUSTERS = "clusters"
"""Tag of the cluster side-file rows output."""


class Fingerprint(NamedTuple):
    """What dedup needs of a record, without its text.

    Fingerprints travel between steps as plain tuples (``tuple(fp)``; ``Fingerprint(*t)``
    reads one back): Beam encodes tuples of strings and bytes natively, while a class or a
    numpy array would be pickled, several times larger, once per element per step.

    Attributes:
        id: record id.
        rank: ``dedup.rank.rank_bytes`` of the record's keep-rank: the smallest is kept,
            and the id can be read back from its end.
        digest: sha256 of the text (exact-dedup key).
        payload: what verification compares, as bytes: the sorted unique shingle hashes
            (``verify: exact``, uint64) or the MinHash signature (``verify: signature``,
            uint32); empty when the document has no shingles or near dedup is off.
        bands: LSH bucket keys (band index and the band's digest, 10 bytes); empty
            likewise.
    """

    id: str
    rank: bytes
    digest: str
    payload: bytes
    bands: tuple[bytes, ...]


def _int_or_zero(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def keeper_rank(record: Record) -> bytes:
    """``dedup.rank.rank_bytes`` of a record; metadata it cannot read counts as absent."""
    stars = _int_or_zero(record.meta.get("stars"))
    tier = license_tier(record.license)
    try:
        key = rank_key(license_tier=tier, stars=stars,
                       recency=str(record.meta.get("date", "")), id=record.id)
    except ValueError:  # an unparseable date is user data, not a reason to fail the build
        key = rank_key(license_tier=tier, stars=stars, recency="", id=record.id)
    return rank_bytes(key)


def fingerprints(records: list[Record], spec: DedupSpec) -> list[Fingerprint]:
    """Fingerprint a batch of records for exact and near dedup (one set of numpy calls for
    the whole batch: the kernel's fixed cost per call dominates small documents).

    A document with fewer words than a shingle has no shingle hashes: no band keys, no
    payload, exact dedup only (its signature would be shared by every such document).
    """
    if not spec.near:
        return [Fingerprint(r.id, keeper_rank(r), content_hash(r.text), b"", ())
                for r in records]
    bands, rows = spec.lsh_params()
    hash_sets = shingle_hashes_batch([r.text for r in records], spec.ngram)
    sigs = signatures(hash_sets, spec.num_perm, spec.seed)
    out = []
    for record, hashes, sig in zip(records, hash_sets, sigs):
        payload, keys = b"", ()
        if hashes.size:
            payload = (hashes if spec.verify == "exact" else sig).tobytes()
            keys = tuple(band.to_bytes(2, "big") + key for band, key in band_keys(sig, bands, rows))
        out.append(Fingerprint(record.id, keeper_rank(record), content_hash(record.text),
                               payload, keys))
    return out


def fingerprint(record: Record, spec: DedupSpec) -> Fingerprint:
    """``fingerprints`` of one record."""
    return fingerprints([record], spec)[0]


def similarity(a: bytes, b: bytes, verify: str) -> float:
    """Jaccard of two payloads: exact on shingle hashes, estimated on signatures."""
    if verify == "exact":
        return exact_jaccard(np.frombuffer(a, np.uint64), np.frombuffer(b, np.uint64))
    return jaccard(np.frombuffer(a, np.uint32), np.frombuffer(b, np.uint32))


# ---------------------------------------------------------------------------- the steps

def exact_group(item: tuple[str, Iterable[tuple]]) -> Iterator[Any]:
    """Keep the best-ranked copy of identical texts; the others are exact duplicates."""
    _, group = item
    # One fingerprint per id: a document read twice (same id) is settled by ``_verdict``.
    unique = {f.id: f for f in (Fingerprint(*t) for t in group)}
    ordered = sorted(unique.values(), key=lambda f: f.rank)
    yield tuple(ordered[0])
    if len(ordered) > 1:
        cluster = min(f.id for f in ordered)
        for f in ordered:
            yield beam.pvalue.TaggedOutput(CLUSTERS, cluster_row(
                f.id, cluster, len(ordered), f is ordered[0], "exact"))
        for loser in ordered[1:]:
            yield beam.pvalue.TaggedOutput(DROPPED, (loser.id, "exact_duplicate"))


def cluster_row(doc_id: str, cluster: str, size: int, kept: bool, kind: str,
                chained: bool = False) -> str:
    """One row of the clusters side file (JSON, sorted keys)."""
    return json.dumps({"id": doc_id, "cluster": cluster, "size": size, "kept": kept,
                       "kind": kind, "chained": chained}, sort_keys=True)


def _near_parts(fingerprint_tuple: tuple) -> Iterator[tuple[str, bytes, bytes, tuple]]:
    """``(id, rank, payload, bands)`` of a fingerprint that has shingles, else nothing."""
    f = Fingerprint(*fingerprint_tuple)
    if f.payload:
        yield f.id, f.rank, f.payload, f.bands


BAND_GROUPS = 4
"""The LSH bands are bucketed in this many passes, one after the other (band ``i`` in pass
``i % BAND_GROUPS``). A pass holds a quarter of the bucket keys, so a runner that keeps a
shuffle in memory (DirectRunner) peaks at a quarter of the band shuffle; on a distributed
runner the passes cost only their ordering."""


def _group_band_members(parts: tuple[str, bytes, bytes, tuple], group: int,
                        after=None) -> Iterator[tuple[bytes, bytes]]:
    """``(bucket key, rank bytes)`` of a document for the bands of pass ``group``;
    ``after`` only orders the passes."""
    for key in parts[3]:
        if int.from_bytes(key[:2], "big") % BAND_GROUPS == group:
            yield key, parts[1]


def _bucket_pairs(item: tuple[bytes, Iterable[bytes]]) -> Iterator[tuple[str, str]]:
    """Candidate pairs of one bucket, whose members travel as their ``rank_bytes``."""
    _, members = item
    return bucket_pairs((m, m[RANK_PREFIX_BYTES:].decode()) for m in members)


def _send_payload(item: tuple[str, dict[str, list]]) -> Iterator[tuple[str, tuple[str, bytes]]]:
    """First half of a pair join: document ``a``'s payload, addressed to each partner."""
    _, joined = item
    for payload in joined["payload"]:
        for other in joined["partners"]:
            yield other, payload


class PairSimilarity(beam.PTransform):
    """``((a, b), similarity)`` for pairs of document ids, joined with both payloads.

    Two joins by document id: ``a``'s payload travels to ``b``, where both are compared.
    A document with many partners (a star centre) sends its payload once per partner, as
    separate elements: no group holds more than one document and its partners' ids.
    """

    def __init__(self, payloads, verify: str):
        super().__init__()
        self._payloads, self._verify = payloads, verify

    def expand(self, pairs):
        verify = self._verify
        tagged = self._payloads | "TagPayload" >> beam.Map(lambda kv: (kv[0], (kv[0], kv[1])))
        sent = ({"partners": pairs, "payload": tagged}
                | "JoinFirst" >> beam.CoGroupByKey()
                | "Send" >> beam.FlatMap(_send_payload))

        def compare(item):
            b, joined = item
            for own in joined["payload"]:
                for a, theirs in joined["arrived"]:
                    yield (a, b), similarity(theirs, own, verify)

        return ({"arrived": sent, "payload": self._payloads}
                | "JoinSecond" >> beam.CoGroupByKey()
                | "Compare" >> beam.FlatMap(Timed("dedup", compare)))


def _cluster_members(item: tuple[str, Iterable[tuple[bytes, str]]]) -> Iterator[Any]:
    """A cluster's keeper, and a (keeper, member) pair for each other member."""
    label, members = item
    ranked = {doc_id: rank for rank, doc_id in members}
    keeper = keepers({m: label for m in ranked}, ranked)[label]
    for member in ranked:
        if member != keeper:
            yield keeper, member


def _decide(item: tuple[str, Iterable[tuple[str, bytes, float | None]]], threshold: float,
            bound_chaining: bool) -> Iterator[tuple[str, Membership]]:
    """Every member's ``Membership`` of one cluster, from ids, ranks and keeper similarity."""
    label, members = item
    members = list(members)
    labels = {doc_id: label for doc_id, _, _ in members}
    ranks = {doc_id: rank for doc_id, rank, _ in members}
    to_keeper = {doc_id: sim for doc_id, _, sim in members if sim is not None}
    yield from memberships(labels, ranks, to_keeper, threshold, bound_chaining).items()


def _membership_outputs(item: tuple[str, Membership]) -> Iterator[Any]:
    doc_id, m = item
    yield beam.pvalue.TaggedOutput(CLUSTERS, cluster_row(doc_id, m.cluster, m.size, m.kept,
                                                         "near", m.chained))
    if m.chained:
        yield beam.pvalue.TaggedOutput("counts", (("dedup", "chained"), 1))
    yield doc_id, m


def _where(record: Record) -> str:
    """A dropped duplicate's detail in the drop log: where it was, ``repo/path`` (the
    clusters side file names it by id only)."""
    return f"{record.repo}/{record.path}"


def _verdict(item: tuple[str, dict[str, list]]) -> Iterator[Record | Drop]:
    """A record's fate: an exact or near duplicate's drop, or the record with its cluster."""
    _, joined = item
    records = list(joined["records"])
    if not records:
        return
    first = records[0]
    # The same source and text read twice (two overlapping inputs) share one id.
    yield from (Drop.of(r, "dedup", "exact_duplicate", _where(r)) for r in records[1:])
    exact = list(joined["exact"])
    near = list(joined["near"])
    if exact:
        yield Drop.of(first, "dedup", exact[0], _where(first))
    elif near and not near[0].kept:
        yield Drop.of(first, "dedup", "near_duplicate", _where(first))
    else:
        cluster, size = (near[0].cluster, near[0].size) if near else (first.id, 1)
        yield first.replace(meta={**first.meta, "cluster": cluster, "cluster_size": size})


class Deduplicate(beam.PTransform):
    """Exact dedup by text hash, then verified MinHash-LSH near dedup of the survivors.

    Returns ``(records, drops, clusters, counts)``: kept records carry ``meta["cluster"]``
    and ``meta["cluster_size"]`` (their own id and 1 outside any near cluster); ``clusters``
    holds one JSON row per clustered document (exact groups and near clusters); ``counts``
    the ``(("dedup", name), n)`` counters of candidates, rejected pairs and chained members.
    """

    def __init__(self, spec: DedupSpec):
        super().__init__()
        self._spec = spec

    def expand(self, records):
        spec = self._spec
        keyed = records | "KeyById" >> beam.Map(lambda r: (r.id, r))
        fps = (records
               | "Batch" >> beam.BatchElements(min_batch_size=16, max_batch_size=256)
               | "Fingerprint" >> beam.FlatMap(Timed(
                   "dedup", lambda batch: [tuple(f) for f in fingerprints(batch, spec)])))
        exact_verdicts, rows, counts = [], [], []
        if spec.exact:
            exact = (fps
                     | "ByDigest" >> beam.Map(lambda t: (Fingerprint(*t).digest, t))
                     | "GroupDigest" >> beam.GroupByKey()
                     | "PickExact" >> beam.FlatMap(exact_group).with_outputs(
                         DROPPED, CLUSTERS, main="kept"))
            fps = exact.kept
            exact_verdicts.append(exact[DROPPED])
            rows.append(exact[CLUSTERS])
        near_verdicts = []
        if spec.near:
            memberships_, near_rows, near_counts = fps | "Near" >> NearClusters(spec)
            near_verdicts.append(memberships_)
            rows.append(near_rows)
            counts.append(near_counts)
        pipeline = records.pipeline

        def flat(label, pcolls):
            return (pcolls or [pipeline | f"No{label}" >> beam.Create([])]) \
                | f"All{label}" >> beam.Flatten()

        joined = ({"records": keyed, "exact": flat("Exact", exact_verdicts),
                   "near": flat("Near", near_verdicts)}
                  | "Join" >> beam.CoGroupByKey())
        kept, drops = joined | "Decide" >> ApplyStage(_verdict, stage="dedup")
        return kept, drops, flat("Rows", rows), flat("Counts", counts)


class NearClusters(beam.PTransform):
    """Verified near-duplicate clusters of fingerprints.

    Returns ``(memberships, rows, counts)``: ``(id, Membership)`` of every clustered
    document, its side-file rows, and the counters.
    """

    def __init__(self, spec: DedupSpec):
        super().__init__()
        self._spec = spec

    def expand(self, fps):
        spec = self._spec
        near = fps | "NearParts" >> beam.FlatMap(_near_parts)
        payloads = near | "Payload" >> beam.Map(lambda t: (t[0], t[2]))
        pairs, done = [], None
        # Each pass waits for the previous one (a side input of its pair count), so a batch
        # runner holds one pass's buckets at a time, not all bands. Not when streaming: Flink
        # would keep every fingerprint waiting in its workers' heap, once per waiting pass.
        in_turn = not buffers_waiting_input(fps.pipeline.options)
        for group in range(BAND_GROUPS):
            waits = [beam.pvalue.AsSingleton(done)] if done is not None else []
            group_pairs = (near
                           | f"ToBands{group}" >> beam.FlatMap(_group_band_members, group, *waits)
                           | f"GroupBands{group}" >> beam.GroupByKey()
                           | f"Pairs{group}" >> beam.FlatMap(_bucket_pairs))
            if in_turn:
                done = group_pairs | f"Done{group}" >> beam.combiners.Count.Globally()
            pairs.append(group_pairs)
        candidates = pairs | "AllPairs" >> beam.Flatten() | "UniquePairs" >> beam.Distinct()
        scored = candidates | "Verify" >> PairSimilarity(payloads, spec.verify)
        threshold = spec.threshold
        edges = scored | "Confirmed" >> beam.Filter(lambda kv: kv[1] >= threshold) \
            | "Edge" >> beam.Map(lambda kv: kv[0])
        counts = [
            candidates | "CountCandidates" >> beam.Map(lambda _: (("dedup", "candidates"), 1)),
            scored | "Rejected" >> beam.Filter(lambda kv: kv[1] < threshold)
            | "CountRejected" >> beam.Map(lambda _: (("dedup", "rejected"), 1))]
        labels = edges | "Components" >> ConnectedComponents(max_rounds=spec.max_rounds)
        ranks = near | "Rank" >> beam.Map(lambda t: (t[0], t[1]))
        labelled = ({"label": labels, "rank": ranks}
                    | "JoinRank" >> beam.CoGroupByKey()
                    | "Labelled" >> beam.FlatMap(
                        lambda kv: [(label, (rank, kv[0])) for label in kv[1]["label"]
                                    for rank in kv[1]["rank"]]))
        to_keeper = (labelled
                     | "GroupCluster" >> beam.GroupByKey()
                     | "KeeperPairs" >> beam.FlatMap(_cluster_members)
                     | "ToKeeper" >> PairSimilarity(payloads, spec.verify)
                     | "ByMember" >> beam.Map(lambda kv: (kv[0][1], kv[1])))
        members = ({"labelled": labelled | "ById" >> beam.Map(lambda kv: (kv[1][1], kv)),
                    "sim": to_keeper}
                   | "JoinSim" >> beam.CoGroupByKey()
                   | "Member" >> beam.FlatMap(lambda kv: [
                       (label, (kv[0], rank, next(iter(kv[1]["sim"]), None)))
                       for label, (rank, _) in kv[1]["labelled"]]))
        out = (members
               | "GroupMembers" >> beam.GroupByKey()
               | "Decide" >> beam.FlatMap(_decide, spec.threshold, spec.bound_chaining)
               | "Outputs" >> beam.FlatMap(_membership_outputs).with_outputs(
                   CLUSTERS, "counts", main="members"))
        counts.append(out.counts)
        return out.members, out[CLUSTERS], counts | "Counts" >> beam.Flatten()
