"""The build as Beam composite transforms: each ``expand`` only wires pure functions.

The logic lives in plain modules (sources, clean, filters, pii, decontam, parse, dedup/,
tokenizer/, shards/) and is unit tested without a runner. Here every stage's function
returns a record or a ``Drop``; ``ApplyStage`` sends records on and drops to a tagged
output, so every input document ends in exactly one place; the counts become stats.json
and the drops themselves the drop log. Each component's own rules (``clean``, ``filters``,
``pii``, ``decontam``) are looked up by the record's component. Nothing is collected
on the driver: listings, samples and counts all flow as PCollections, and the only
single-worker steps hold bounded data (the tokenizer sample, the LSH edge list, per-shard
metadata).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from dedup.components import connected_components
from dedup.lsh import band_keys, optimal_params
from dedup.minhash import signature
from dedup.rank import rank_key
from dedup.shingles import shingles
from pipelines.accounting import Drop, funnel
from pipelines.clean import CleanRecords
from pipelines.config import BuildConfig, DedupSpec, TokenizerSpec
from pipelines.decontam import Decontaminate
from pipelines.droplog import WriteDropLog, write_log_file
from pipelines.ingest import ReadSources, source_counts
from pipelines.parse import Parsers, pair_records, syntax_verdict
from pipelines.pii import RedactRecords
from pipelines.records import Record, content_hash
from pipelines.stage import DROPPED, ApplyStage, count_entering
from shards.format import dtype_for_vocab, write_bytes_atomic, write_shard
from shards.manifest import (MANIFEST_NAME, MANIFEST_VERSION, ComponentEntry, Manifest,
                             ShardEntry, TokenizerEntry, config_hash, write_manifest)
from tokenizer.encode import encode_batch
from tokenizer.load import load_tokenizer, special_ids, tokenizer_from_str
from tokenizer.special_tokens import SEP
from tokenizer.train import train_bpe

TOKENIZER_NAME = "tokenizer.json"
STATS_NAME = "stats.json"


# ----------------------------------------------------------------------------------- dedup

@dataclasses.dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedup needs of a record, without its text.

    Attributes:
        id: record id.
        rank: ``dedup.rank.rank_key`` of the record: the smallest is kept.
        digest: sha256 of the text (exact-dedup key).
        bands: LSH band keys of the MinHash signature (empty when near dedup is off).
    """

    id: str
    rank: tuple
    digest: str
    bands: tuple[tuple[int, bytes], ...]


def _int_or_zero(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def keeper_rank(record: Record) -> tuple:
    """``dedup.rank.rank_key`` of a record; metadata it cannot read counts as absent."""
    stars = _int_or_zero(record.meta.get("stars"))
    try:
        return rank_key(license=record.license, stars=stars,
                        recency=str(record.meta.get("date", "")), id=record.id)
    except ValueError:  # an unparseable date is user data, not a reason to fail the build
        return rank_key(license=record.license, stars=stars, recency="", id=record.id)


def fingerprint(record: Record, spec: DedupSpec, bands: int, rows: int) -> Fingerprint:
    """Fingerprint a record for exact and near dedup.

    A text without a single word has no shingles; it gets no band keys (its MinHash would
    be the all-max signature, shared by every such text) and is deduplicated exactly only.
    """
    keys: tuple = ()
    if spec.near:
        grams = shingles(record.text, spec.ngram)
        if grams:
            keys = tuple(band_keys(signature(grams, spec.num_perm, spec.seed), bands, rows))
    return Fingerprint(record.id, keeper_rank(record), content_hash(record.text), keys)


def _exact_group(item: tuple[str, Iterable[Fingerprint]]) -> Iterator[Any]:
    """Keep the best-ranked copy of identical texts; the others are exact duplicates."""
    _, group = item
    ordered = sorted(group, key=lambda f: f.rank)
    yield ordered[0]
    for loser in ordered[1:]:
        yield beam.pvalue.TaggedOutput(DROPPED, (loser.id, "exact_duplicate"))


def _bucket_edges(item: tuple[Any, Iterable[tuple[tuple, str]]]) -> Iterator[tuple]:
    """Star edges from a bucket's best-ranked member to the others (n-1 edges, not n^2)."""
    _, members = item
    ordered = sorted(set(members))
    for other in ordered[1:]:
        yield ordered[0], other


def _near_losers(edges: list[tuple[tuple[tuple, str], tuple[tuple, str]]]) -> Iterator[tuple[str, str]]:
    """Connected components of the candidate graph; all but each cluster's best are dropped."""
    rank = {node_id: r for edge in edges for r, node_id in edge}
    roots = connected_components((a[1], b[1]) for a, b in edges)
    best: dict[str, str] = {}
    for node, root in roots.items():
        if root not in best or rank[node] < rank[best[root]]:
            best[root] = node
    for node, root in sorted(roots.items()):
        if best[root] != node:
            yield node, "near_duplicate"


def _dedup_verdict(item: tuple[str, dict[str, list]]) -> Iterator[Record | Drop]:
    _, joined = item
    records, verdicts = list(joined["records"]), list(joined["verdicts"])
    if not records:
        return
    first = records[0]
    # The same source and text read twice (two overlapping inputs) share one id.
    yield from (Drop.of(r, "dedup", "exact_duplicate") for r in records[1:])
    yield Drop.of(first, "dedup", verdicts[0]) if verdicts else first


class Deduplicate(beam.PTransform):
    """Exact dedup by text hash, then MinHash-LSH near dedup over the exact survivors.

    Near-duplicate clusters are the connected components of the LSH candidate graph; each
    keeps its best member by ``dedup.rank.rank_key`` (license > stars > recency > id).
    NOTE: the components are found on one worker from the edge list (edges, not texts:
    bounded by the number of duplicates); the distributed version is a later stage.
    Returns ``(records, drops)``.
    """

    def __init__(self, spec: DedupSpec):
        super().__init__()
        self._spec = spec
        self._bands, self._rows = optimal_params(spec.threshold, spec.num_perm)

    def expand(self, records):
        spec = self._spec
        keyed = records | "KeyById" >> beam.Map(lambda r: (r.id, r))
        fps = records | "Fingerprint" >> beam.Map(fingerprint, spec, self._bands, self._rows)
        losers = []
        if spec.exact:
            exact = (fps
                     | "ByDigest" >> beam.Map(lambda f: (f.digest, f))
                     | "GroupDigest" >> beam.GroupByKey()
                     | "PickExact" >> beam.FlatMap(_exact_group).with_outputs(
                         DROPPED, main="kept"))
            fps = exact.kept
            losers.append(exact[DROPPED])
        if spec.near:
            near = (fps
                    | "ToBands" >> beam.FlatMap(
                        lambda f: (((band, key), (f.rank, f.id)) for band, key in f.bands))
                    | "GroupBands" >> beam.GroupByKey()
                    | "Edges" >> beam.FlatMap(_bucket_edges)
                    | "UniqueEdges" >> beam.Distinct()
                    | "EdgeList" >> beam.combiners.ToList()
                    | "Clusters" >> beam.FlatMap(_near_losers))
            losers.append(near)
        verdicts = losers | "Verdicts" >> beam.Flatten()
        joined = ({"records": keyed, "verdicts": verdicts}
                  | "Join" >> beam.CoGroupByKey())
        return joined | "Decide" >> ApplyStage(_dedup_verdict)


# ----------------------------------------------------------------------------------- parse

PAIRS = "pairs"


class _ParseDoFn(beam.DoFn):
    """Syntax health and bimodal pairs; grammars are built once per worker."""

    def __init__(self, max_error_ratio: dict[str, float], pair_components: dict[str, list[str]]):
        self._max_error_ratio = max_error_ratio
        self._pair_components = pair_components

    def setup(self) -> None:
        self._parsers = Parsers()

    def process(self, record: Record) -> Iterator[Any]:
        result = self._parsers.analyze(record.text, record.lang) if record.kind == "code" else None
        if result is None:
            yield record
            return
        reason = syntax_verdict(result, self._max_error_ratio[record.component])
        if reason:
            yield beam.pvalue.TaggedOutput(DROPPED, Drop.of(record, "parse", reason))
            return
        yield record
        for component in self._pair_components.get(record.component, ()):
            for pair in pair_records(record, result, component):
                yield beam.pvalue.TaggedOutput(PAIRS, pair)


class ParseCode(beam.PTransform):
    """tree-sitter parse: drop broken code, extract function/docstring pairs.

    Returns ``(records, drops, pairs)``.
    """

    def __init__(self, config: BuildConfig):
        super().__init__()
        self._max_error_ratio = {c.name: c.filters.max_error_ratio for c in config.components}
        self._pair_components: dict[str, list[str]] = {}
        for comp in config.components:
            for source in comp.pairs_from:
                self._pair_components.setdefault(source, []).append(comp.name)

    def expand(self, records):
        out = records | "Parse" >> beam.ParDo(
            _ParseDoFn(self._max_error_ratio, self._pair_components)).with_outputs(
                DROPPED, PAIRS, main="records")
        return out.records, out[DROPPED], out[PAIRS]


# ------------------------------------------------------------------------------- tokenizer

@dataclasses.dataclass(frozen=True)
class TokenizerArtifact:
    """The build's tokenizer, as passed to every worker (a side input).

    Attributes:
        json: tokenizer.json text.
        sha256: its hash, recorded in the manifest.
        vocab_size: number of ids.
        special_ids: special token -> id.
    """

    json: str
    sha256: str
    vocab_size: int
    special_ids: dict[str, int]


def _artifact(text: str, output: str) -> TokenizerArtifact:
    """Validate a tokenizer, store it beside the shards and describe it."""
    tok = tokenizer_from_str(text)
    data = text.encode("utf-8")
    write_bytes_atomic(f"{output.rstrip('/')}/{TOKENIZER_NAME}", data)
    return TokenizerArtifact(text, hashlib.sha256(data).hexdigest(), tok.get_vocab_size(),
                             special_ids(tok))


def _sample_key(record: Record) -> bytes:
    return hashlib.sha256(b"tokenizer-sample:" + record.id.encode()).digest()


def _train(sample: list[tuple[bytes, str]], spec: TokenizerSpec) -> str:
    # Top.Of returns the sample in key order, so training sees the same order every run.
    return train_bpe((text for _, text in sample), spec.vocab_size, spec.min_frequency).to_str()


class BuildTokenizer(beam.PTransform):
    """The tokenizer as a one-element PCollection of ``TokenizerArtifact``.

    Trains byte-level BPE on a deterministic sample (smallest hashes of record ids) of the
    cleaned records, or loads ``spec.path``; either way tokenizer.json is written to the
    output folder.
    """

    def __init__(self, spec: TokenizerSpec, output: str):
        super().__init__()
        self._spec, self._output = spec, output

    def expand(self, records):
        spec = self._spec
        if spec.path:
            text = (records.pipeline
                    | "TokenizerPath" >> beam.Create([spec.path])
                    | "ReadTokenizer" >> beam.Map(lambda url: load_tokenizer(url).to_str()))
        else:
            text = (records
                    | "SampleKey" >> beam.Map(
                        lambda r: (_sample_key(r), r.text[:spec.sample_chars]))
                    | "Sample" >> beam.combiners.Top.Of(spec.sample_docs,
                                                        key=lambda kv: kv[0], reverse=True)
                    | "Train" >> beam.Map(_train, spec))
        return text | "Store" >> beam.Map(_artifact, self._output)


@dataclasses.dataclass(frozen=True, slots=True)
class EncodedDoc:
    """A tokenized document on its way to a shard."""

    id: str
    tokens: np.ndarray
    meta: dict[str, Any]
    source: str = ""


class _EncodeDoFn(beam.DoFn):
    """Encode batches of records; the tokenizer is rebuilt only when its text changes."""

    def setup(self) -> None:
        self._sha: str | None = None

    def process(self, batch: list[Record], art: TokenizerArtifact) -> Iterator[Any]:
        if self._sha != art.sha256:
            self._tok, self._sha = tokenizer_from_str(art.json), art.sha256
        texts = [t for r in batch for t in ((r.docstring, r.code) if r.kind == "pair" else (r.text,))]
        encoded = iter(encode_batch(self._tok, texts))
        sep = np.array([art.special_ids[SEP]], dtype=np.uint32)
        for r in batch:
            # A pair is docstring <sep> code, so objectives can find the split.
            ids = np.concatenate([next(encoded), sep, next(encoded)]) if r.kind == "pair" \
                else next(encoded)
            if ids.size == 0:
                yield beam.pvalue.TaggedOutput(DROPPED, Drop.of(r, "tokenize", "no_tokens"))
            else:
                yield r.component, EncodedDoc(r.id, ids, r.shard_meta(), r.source)


class TokenizeRecords(beam.PTransform):
    """Records to ``(component, EncodedDoc)``; returns ``(encoded, drops)``."""

    def __init__(self, tokenizer):
        super().__init__()
        self._tokenizer = tokenizer

    def expand(self, records):
        out = (records
               | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=256)
               | "Encode" >> beam.ParDo(_EncodeDoFn(), beam.pvalue.AsSingleton(
                   self._tokenizer)).with_outputs(DROPPED, main="encoded"))
        return out.encoded, out[DROPPED]


# ---------------------------------------------------------------------------------- shards

def shard_count(tokens: int, target_tokens: int) -> int:
    """Shards for a component of ``tokens`` tokens, about ``target_tokens`` each."""
    return max(1, math.ceil(tokens / target_tokens))


def shard_of(doc_id: str, count: int) -> int:
    """The shard a document goes to: a hash of its id, so placement ignores arrival order."""
    return int(doc_id[:12], 16) % count


def shard_name(component: str, index: int, compress: bool) -> str:
    """Shard path relative to the output folder."""
    return f"{component}/{index:05d}.shard" + (".zst" if compress else "")


def _write_group(item: tuple[tuple[str, int], Iterable[EncodedDoc]], output: str,
                 compress: bool, art: TokenizerArtifact) -> tuple[str, ShardEntry]:
    (component, index), docs = item
    ordered = sorted(docs, key=lambda d: d.id)
    rel = shard_name(component, index, compress)
    info = write_shard(f"{output.rstrip('/')}/{rel}", ((d.tokens, d.meta) for d in ordered),
                       dtype_for_vocab(art.vocab_size), compress=compress)
    return component, ShardEntry(path=rel, sha256=info.sha256, docs=info.docs,
                                 tokens=info.tokens)


class WriteShards(beam.PTransform):
    """Group each component's documents into shards (sorted by id) and write them.

    Returns ``(component, ShardEntry)`` per shard written.
    """

    def __init__(self, output: str, target_tokens: int, compress: bool, tokenizer):
        super().__init__()
        self._output, self._target, self._compress = output, target_tokens, compress
        self._tokenizer = tokenizer

    def expand(self, encoded):
        totals = (encoded
                  | "Tokens" >> beam.Map(lambda kv: (kv[0], int(kv[1].tokens.size)))
                  | "SumTokens" >> beam.CombinePerKey(sum))
        target = self._target
        return (encoded
                | "AssignShard" >> beam.Map(
                    lambda kv, t: ((kv[0], shard_of(kv[1].id, shard_count(t[kv[0]], target))),
                                   kv[1]), beam.pvalue.AsDict(totals))
                | "GroupShard" >> beam.GroupByKey()
                | "Write" >> beam.Map(_write_group, self._output, self._compress,
                                      beam.pvalue.AsSingleton(self._tokenizer)))


# -------------------------------------------------------------------------------- manifest

def build_manifest(config: BuildConfig, shards: list[tuple[str, ShardEntry]],
                   art: TokenizerArtifact) -> Manifest:
    """The manifest of a finished build (every component, even one left empty)."""
    by_comp: dict[str, list[ShardEntry]] = {c.name: [] for c in config.components}
    for component, entry in shards:
        by_comp[component].append(entry)
    components = []
    for comp in sorted(config.components, key=lambda c: c.name):
        entries = tuple(sorted(by_comp[comp.name], key=lambda e: e.path))
        components.append(ComponentEntry(
            name=comp.name, kind=comp.kind, weight=comp.weight, epochs=comp.epochs,
            docs=sum(e.docs for e in entries), tokens=sum(e.tokens for e in entries),
            shards=entries))
    plain = config.to_dict()
    return Manifest(format_version=MANIFEST_VERSION,
                    token_dtype=dtype_for_vocab(art.vocab_size).name,
                    tokenizer=TokenizerEntry(path=TOKENIZER_NAME, sha256=art.sha256,
                                             vocab_size=art.vocab_size,
                                             special_tokens=art.special_ids),
                    config=plain, config_hash=config_hash(plain),
                    components=tuple(components))


def build_stats(counts: list[tuple[tuple, int]], manifest: Manifest,
                drop_log: list[str]) -> dict[str, Any]:
    """stats.json: the funnel per component and source, plus tokens and languages."""
    langs: dict[str, dict[str, int]] = {}
    for k, n in counts:
        if k[0] == "lang":
            langs.setdefault(k[1], {})[k[2]] = n
    stats = funnel(counts, {c.name: c.docs for c in manifest.components})
    for comp in manifest.components:
        stats["components"][comp.name].update(
            tokens=comp.tokens, shards=len(comp.shards),
            languages=dict(sorted(langs.get(comp.name, {}).items())))
    stats["balanced"] = all(c["balanced"] for c in stats["components"].values())
    stats["drop_log"] = sorted(drop_log)
    return stats


def _finish(shards: list[tuple[str, ShardEntry]], counts: list, drop_log: list[str],
            art: TokenizerArtifact, config: BuildConfig) -> str:
    """Write stats.json, then manifest.json: the manifest is the commit point, so last."""
    out = config.output.rstrip("/")
    if not drop_log:  # nothing was dropped: the log still exists, empty
        drop_log = [write_log_file(out, 0, [])]
    manifest = build_manifest(config, shards, art)
    stats = build_stats(counts, manifest, drop_log)
    write_bytes_atomic(f"{out}/{STATS_NAME}",
                       (json.dumps(stats, sort_keys=True, indent=2) + "\n").encode())
    write_manifest(manifest, f"{out}/{MANIFEST_NAME}")
    return f"{out}/{MANIFEST_NAME}"


def _edit_counts(record: Record) -> Iterator[tuple[tuple, int]]:
    for kind, n in record.meta.get("edits", {}).items():
        yield ("edit", record.component, kind), n
        yield ("src_edit", record.component, record.source, kind), n


def _drop_counts(drop: Drop) -> Iterator[tuple[tuple, int]]:
    yield ("drop", drop.component, drop.stage, drop.reason), 1
    yield ("src_drop", drop.component, drop.source, drop.reason), 1


def build(pipeline: beam.Pipeline, config: BuildConfig):
    """Wire the whole build into ``pipeline``; returns the PCollection of the manifest URL."""
    counts, drops = [], []
    records, read_drops = pipeline | "ReadSources" >> ReadSources(config)
    drops.append(read_drops)
    counts += [count_entering(records, "read"),
               (records, read_drops) | "ReadOutcomes" >> beam.Flatten()
               | "SourceCounts" >> beam.FlatMap(source_counts)]
    kept, (clean_drops, filter_drops), cleaned = records | "CleanRecords" >> CleanRecords(
        config)
    drops += [clean_drops, filter_drops]
    counts += [count_entering(records, "clean"), count_entering(cleaned, "filter")]
    redacted = kept | "RedactRecords" >> RedactRecords(config)
    counts.append(count_entering(kept, "redact"))
    clear, decontam_drops = redacted | "Decontaminate" >> Decontaminate(config)
    drops.append(decontam_drops)
    counts += [count_entering(redacted, "decontam"),
               clear | "EditCounts" >> beam.FlatMap(_edit_counts)]
    deduped, dedup_drops = clear | "Deduplicate" >> Deduplicate(config.dedup)
    drops.append(dedup_drops)
    counts += [count_entering(clear, "dedup"), count_entering(deduped, "parse")]
    parsed, parse_drops, pairs = deduped | "ParseCode" >> ParseCode(config)
    drops.append(parse_drops)

    # Pairs are new documents of their own components: count them in, then dedup them
    # exactly (the same function can sit in two different files).
    counts.append(pairs | "PairsIn" >> beam.FlatMap(
        lambda r: [(("in", r.component, "read"), 1), *source_counts(r)]))
    pairs, pair_drops = pairs | "DedupPairs" >> Deduplicate(
        dataclasses.replace(config.dedup, near=False))
    drops.append(pair_drops)
    to_encode = (parsed, pairs) | "WithPairs" >> beam.Flatten()
    counts.append(count_entering(to_encode, "tokenize"))

    tokenizer = parsed | "BuildTokenizer" >> BuildTokenizer(config.tokenizer, config.output)
    encoded, token_drops = to_encode | "TokenizeRecords" >> TokenizeRecords(tokenizer)
    drops.append(token_drops)
    shards = encoded | "WriteShards" >> WriteShards(
        config.output, config.shards.target_tokens, config.shards.compress, tokenizer)

    all_drops = drops | "AllDrops" >> beam.Flatten()
    drop_log = all_drops | "WriteDropLog" >> WriteDropLog(config.output)
    counts += [
        all_drops | "DropCounts" >> beam.FlatMap(_drop_counts),
        encoded | "KeptCounts" >> beam.FlatMap(lambda kv: [
            (("lang", kv[0], kv[1].meta["lang"]), 1), (("src_kept", kv[0], kv[1].source), 1)])]
    all_counts = (counts | "AllCounts" >> beam.Flatten()
                  # Counters of one key come from several places (pairs): merge them.
                  | "MergeCounts" >> beam.CombinePerKey(sum)
                  | "CountList" >> beam.combiners.ToList())
    return (shards
            | "ShardList" >> beam.combiners.ToList()
            | "Finish" >> beam.Map(_finish, beam.pvalue.AsSingleton(all_counts),
                                   beam.pvalue.AsList(drop_log),
                                   beam.pvalue.AsSingleton(tokenizer), config))
