"""The build as Beam composite transforms: each ``expand`` only wires pure functions.

The logic lives in plain modules (sources, clean, filters, pii, decontam, parse, dedup/,
tokenizer/, shards/) and is unit tested without a runner. Here every stage's function
returns a record or a ``Drop``; ``ApplyStage`` sends records on and drops to a tagged
output, so every input document ends in exactly one place; the counts become stats.json
and the drops themselves the drop log. Each component's own rules (``clean``, ``filters``,
``pii``, ``decontam``) are looked up by the record's component. Nothing is collected
on the driver: listings, samples and counts all flow as PCollections, and the only
single-worker steps hold bounded data (the tokenizer sample, per-shard metadata).
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

from pipelines.accounting import Drop, funnel
from pipelines.clean import CleanRecords
from pipelines.config import BuildConfig, ConfigError, TokenizerSpec
from pipelines.decontam import Decontaminate
from pipelines.deduplicate import Deduplicate
from pipelines.droplog import DROP_LOG_DIR, WriteDropLog
from pipelines.sidefile import WriteSideFile, write_part
from pipelines.ingest import ReadSources, source_counts
from pipelines.parse.transform import ParseCode, parse_stats
from pipelines.pii import RedactRecords
from pipelines.profile import kept_counts, profile
from pipelines.progress import tick
from pipelines.records import Record
from pipelines.spans import assemble, cut, document_ranges
from pipelines.stage import DROPPED, count_entering
from pipelines.timing import Timed, stage_timer
from shards.format import dtype_for_vocab, file_sha256, write_bytes_atomic, write_shard
from shards.manifest import (MANIFEST_NAME, MANIFEST_VERSION, ComponentEntry, Manifest,
                             ShardEntry, TokenizerEntry, config_hash, write_manifest)
from tokenizer.encode import encode_batch, fallback_reason
from tokenizer.load import (TokenizerError, adopt, read_tokenizer_text, special_ids,
                            tokenizer_from_str, vocab_size)
from tokenizer.sample import ComponentMix, ComponentSize, ComponentTake, plan_sample
from tokenizer.special_tokens import ENDOFTEXT, SEP
from tokenizer.train import train_bpe

TOKENIZER_NAME = "tokenizer.json"
STATS_NAME = "stats.json"


# ------------------------------------------------------------------------------- tokenizer

@dataclasses.dataclass(frozen=True)
class TokenizerArtifact:
    """The build's tokenizer, as passed to every worker (a side input).

    Attributes:
        json: tokenizer.json text, as stored beside the shards.
        sha256: its hash, recorded in the manifest.
        vocab_size: number of ids (one more than the largest).
        special_ids: codemix special token -> id, for the tokens it has.
        given_sha256: hash of the given tokenizer.json as read (before special tokens were
            added); None when the tokenizer was trained.
    """

    json: str
    sha256: str
    vocab_size: int
    special_ids: dict[str, int]
    given_sha256: str | None = None


def _artifact(text: str, spec: TokenizerSpec, output: str) -> TokenizerArtifact:
    """Store a tokenizer beside the shards and describe it."""
    tok = tokenizer_from_str(text)
    data = text.encode("utf-8")
    write_bytes_atomic(f"{output.rstrip('/')}/{TOKENIZER_NAME}", data)
    return TokenizerArtifact(text, hashlib.sha256(data).hexdigest(), vocab_size(tok),
                             special_ids(tok, spec.special_tokens),
                             file_sha256(spec.path) if spec.path else None)


def _required_special_tokens(config: BuildConfig) -> tuple[str, ...]:
    """Special tokens the build itself writes: ``<|endoftext|>``, which ends every
    document, and ``<sep>`` between a pair's docstring and code."""
    pairs = any(c.kind == "pair" for c in config.components)
    return (ENDOFTEXT, SEP) if pairs else (ENDOFTEXT,)


def _adopt_given(spec: TokenizerSpec, required: tuple[str, ...]) -> str:
    """The given tokenizer.json with its special tokens checked (and added when allowed)."""
    try:
        tok = tokenizer_from_str(read_tokenizer_text(spec.path))
        adopt(tok, names=spec.special_tokens, required=required,
              add_missing=spec.add_missing_special_tokens)
    except FileNotFoundError:
        raise ConfigError(f"tokenizer.path: no such file {spec.path}") from None
    except TokenizerError as err:
        raise ConfigError(f"tokenizer.path {spec.path}: {err}") from None
    return tok.to_str()


def _sample_key(record: Record) -> bytes:
    return hashlib.sha256(b"tokenizer-sample:" + record.id.encode()).digest()


def _take(record: Record, plan: dict[str, ComponentTake],
          cap: int) -> Iterator[tuple[bytes, str]]:
    """A record's copies in the tokenizer sample (``tokenizer.sample``), keyed for order."""
    key = _sample_key(record)
    for _ in range(plan[record.component].count(key)):
        yield key, record.text[:cap]


def _train(sample: list[tuple[bytes, str]], spec: TokenizerSpec) -> str:
    tick("tokenizer", len(sample), sum(len(text.encode("utf-8", "surrogatepass"))
                                       for _, text in sample))
    # Sorted by key, so training sees the same order every run (it does not depend on it).
    return train_bpe((text for _, text in sorted(sample)), spec.vocab_size, spec.min_frequency,
                     digits=spec.digits, space_runs=spec.space_runs,
                     tab_runs=spec.tab_runs).to_str()


class SampleForTokenizer(beam.PTransform):
    """The tokenizer's training sample: a one-element PCollection of ``[(key, text), ...]``.

    Follows the mixture (``tokenizer.sample``): each component gets a share of
    ``sample_docs`` documents by its weight or epochs and its size, taken by the smallest
    hashes of their ids, whole copies first when the share needs repeats; each text is cut
    to ``sample_chars``. Only keys and sizes are gathered per component before the texts
    are taken, so memory is bounded by the sample.
    """

    def __init__(self, config: BuildConfig):
        super().__init__()
        self._spec = config.tokenizer
        self._mix = {c.name: ComponentMix(c.weight, c.epochs) for c in config.components}

    def expand(self, records):
        mix, docs, cap = self._mix, self._spec.sample_docs, self._spec.sample_chars
        keyed = records | "SampleKey" >> beam.Map(
            lambda r: (r.component, _sample_key(r), len(r.text)))
        sizes = (keyed
                 | "Size" >> beam.Map(lambda k: (k[0], (1, k[2], min(k[2], cap))))
                 | "SumSizes" >> beam.CombinePerKey(beam.combiners.TupleCombineFn(sum, sum, sum))
                 | "SizeOf" >> beam.MapTuple(lambda c, s: (c, ComponentSize(*s))))
        lowest = (keyed
                  | "Key" >> beam.Map(lambda k: (k[0], k[1]))
                  | "Lowest" >> beam.combiners.Top.SmallestPerKey(docs))
        plan = (records.pipeline
                | "Once" >> beam.Create([None])
                | "Plan" >> beam.Map(lambda _, s, low: plan_sample(s, mix, low, docs),
                                     beam.pvalue.AsDict(sizes), beam.pvalue.AsDict(lowest)))
        return (records
                | "Take" >> beam.FlatMap(_take, beam.pvalue.AsSingleton(plan), cap)
                | "Sample" >> beam.combiners.ToList())


class BuildTokenizer(beam.PTransform):
    """The tokenizer as a one-element PCollection of ``TokenizerArtifact``.

    Trains byte-level BPE on ``SampleForTokenizer``'s sample of the records, or adopts
    ``tokenizer.path`` (``tokenizer.load.adopt``); either way tokenizer.json is written to
    the output folder. A given tokenizer is checked here, when the pipeline is built: a
    missing file or special token is a ``ConfigError``.
    """

    def __init__(self, config: BuildConfig):
        super().__init__()
        self._config = config
        self._required = _required_special_tokens(config)
        if config.tokenizer.path:
            _adopt_given(config.tokenizer, self._required)

    def expand(self, records):
        spec = self._config.tokenizer
        if spec.path:
            text = (records.pipeline
                    | "TokenizerPath" >> beam.Create([spec])
                    | "Adopt" >> beam.Map(_adopt_given, self._required))
        else:
            text = (records
                    | "SampleForTokenizer" >> SampleForTokenizer(self._config)
                    | "Train" >> beam.Map(Timed("tokenizer", _train), spec))
        return text | "Store" >> beam.Map(_artifact, spec, self._config.output)


@dataclasses.dataclass(frozen=True, slots=True)
class EncodedDoc:
    """A tokenized document on its way to a shard."""

    id: str
    tokens: np.ndarray
    meta: dict[str, Any]
    source: str = ""
    bytes: int = 0
    """UTF-8 size of the text it was encoded from (for bytes per token in the profile)."""


ENCODER = "encoder"
"""Tagged output of ``_EncodeDoFn``: ``(("encoder", "fast"), n)`` documents encoded by
tiktoken, or ``(("encoder", "fallback", reason), n)`` by ``tokenizers`` and why."""


class _EncodeDoFn(beam.DoFn):
    """Encode batches of records; the tokenizer is rebuilt only when its text changes.

    A rebuilt tokenizer's fast (tiktoken) encoder is converted and checked against
    ``tokenizers`` right away, once per worker. Every batch counts its documents under the
    path that encoded them, so a fallback (several times slower, never silent) reaches
    stats.json and the build summary, with its reason.
    """

    def __init__(self, loss_mask: dict[str, tuple[str, ...]]):
        self._loss_mask = loss_mask

    def setup(self) -> None:
        self._sha: str | None = None

    def process(self, batch: list[Record], art: TokenizerArtifact) -> Iterator[Any]:
        with stage_timer("tokenize"):
            out = list(self._encode(batch, art))
        yield from out

    def _encode(self, batch: list[Record], art: TokenizerArtifact) -> Iterator[Any]:
        if self._sha != art.sha256:
            self._tok, self._sha = tokenizer_from_str(art.json), art.sha256
            reason = fallback_reason(self._tok)
            self._path = ("encoder", "fast") if reason is None else (
                "encoder", "fallback", reason)
        yield beam.pvalue.TaggedOutput(ENCODER, (self._path, len(batch)))
        tick("encoded", len(batch), sum(len(r.text.encode("utf-8", "surrogatepass"))
                                        for r in batch))
        # Each text is cut at its ranges' ends (``pipelines.spans``), so they fall on token
        # boundaries; all pieces of the batch are encoded in one call.
        ranges = [{} if r.kind == "pair" else document_ranges(r, self._loss_mask[r.component])
                  for r in batch]
        pieces = [[r.docstring, r.code] if r.kind == "pair" else cut(r.text, rs)
                  for r, rs in zip(batch, ranges)]
        encoded = iter(encode_batch(self._tok, [p for ps in pieces for p in ps]))
        sep = np.array([art.special_ids[SEP]], dtype=np.uint32)
        for r, rs, ps in zip(batch, ranges, pieces):
            parts = [next(encoded) for _ in ps]
            if r.kind == "pair":
                # A pair is docstring <sep> code, so objectives can find the split.
                ids, token_ranges = np.concatenate([parts[0], sep, parts[1]]), {}
            else:
                ids, token_ranges = assemble(ps, parts, rs)
            if ids.size == 0:
                yield beam.pvalue.TaggedOutput(DROPPED, Drop.of(r, "tokenize", "no_tokens"))
            else:
                yield r.component, EncodedDoc(
                    r.id, ids, {**r.shard_meta(), **token_ranges}, r.source,
                    len(r.text.encode("utf-8", "surrogatepass")))


class TokenizeRecords(beam.PTransform):
    """Records to ``(component, EncodedDoc)``; returns ``(encoded, drops, encoder_counts)``,
    the last as ``ENCODER`` describes."""

    def __init__(self, tokenizer, loss_mask: dict[str, tuple[str, ...]]):
        """``loss_mask``: component name -> its ``ComponentSpec.loss_mask``."""
        super().__init__()
        self._tokenizer = tokenizer
        self._loss_mask = loss_mask

    def expand(self, records):
        out = (records
               | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=256)
               | "Encode" >> beam.ParDo(_EncodeDoFn(self._loss_mask), beam.pvalue.AsSingleton(
                   self._tokenizer)).with_outputs(DROPPED, ENCODER, main="encoded"))
        return out.encoded, out[DROPPED], out[ENCODER]


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
                | "Write" >> beam.Map(Timed("write", _write_group), self._output,
                                      self._compress, beam.pvalue.AsSingleton(self._tokenizer)))


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
                                             special_tokens=art.special_ids,
                                             given_sha256=art.given_sha256),
                    config=plain, config_hash=config_hash(plain),
                    components=tuple(components))


CLUSTERS_DIR = "clusters"


def build_stats(counts: list[tuple[tuple, int]], manifest: Manifest,
                side_files: dict[str, list[str]]) -> dict[str, Any]:
    """stats.json: the funnel per component and source, tokens and languages, the dedup
    counters, the documents each encoder path took (``encoder``: ``fast``, ``fallback``
    and ``fallback_reasons``), the parse stage's per-language counts (``parse``,
    ``pipelines.parse.transform.parse_stats``), the profile of the kept corpus
    (``pipelines.profile``), and the side files (drop log, clusters)."""
    langs: dict[str, dict[str, int]] = {}
    dedup: dict[str, int] = {"candidates": 0, "rejected": 0, "chained": 0}
    encoder: dict[str, Any] = {"fast": 0, "fallback": 0, "fallback_reasons": {}}
    for k, n in counts:
        if k[0] == "lang":
            langs.setdefault(k[1], {})[k[2]] = n
        elif k[0] == "dedup":
            dedup[k[1]] = n
        elif k[0] == "encoder":
            encoder[k[1]] += n
            if k[1] == "fallback":
                encoder["fallback_reasons"][k[2]] = n
    stats = funnel(counts, {c.name: c.docs for c in manifest.components})
    for comp in manifest.components:
        stats["components"][comp.name].update(
            tokens=comp.tokens, shards=len(comp.shards),
            languages=dict(sorted(langs.get(comp.name, {}).items())))
    stats["balanced"] = all(c["balanced"] for c in stats["components"].values())
    stats["dedup"] = dict(sorted(dedup.items()))
    encoder["fallback_reasons"] = dict(sorted(encoder["fallback_reasons"].items()))
    stats["encoder"] = encoder
    stats["parse"] = parse_stats(counts)
    stats["profile"] = profile(counts)
    for name, files in side_files.items():
        stats[name] = sorted(files)
    return stats


def _finish(shards: list[tuple[str, ShardEntry]], counts: list, drop_log: list[str],
            clusters: list[str], art: TokenizerArtifact, config: BuildConfig) -> str:
    """Write stats.json, then manifest.json: the manifest is the commit point, so last, and
    only for a build whose every document is accounted for."""
    out = config.output.rstrip("/")
    side_files = {"drop_log": (DROP_LOG_DIR, drop_log), "clusters": (CLUSTERS_DIR, clusters)}
    for name, (folder, files) in side_files.items():
        if not files:  # nothing to list: the side file still exists, empty
            files.append(write_part(out, folder, 0, []))
    manifest = build_manifest(config, shards, art)
    stats = build_stats(counts, manifest, {k: v[1] for k, v in side_files.items()})
    write_bytes_atomic(f"{out}/{STATS_NAME}",
                       (json.dumps(stats, sort_keys=True, indent=2) + "\n").encode())
    if stats["balanced"]:  # else no commit: ``pipelines.main`` fails the build on stats.json
        write_manifest(manifest, f"{out}/{MANIFEST_NAME}")
    return f"{out}/{MANIFEST_NAME}"


def _edit_counts(record: Record) -> Iterator[tuple[tuple, int]]:
    for kind, n in record.meta.get("edits", {}).items():
        yield ("edit", record.component, kind), n
        yield ("src_edit", record.component, record.source, kind), n


def _kept_counts(item: tuple[str, EncodedDoc]) -> Iterator[tuple[tuple, int]]:
    component, doc = item
    yield ("lang", component, doc.meta["lang"]), 1
    yield ("src_kept", component, doc.source), 1
    yield from kept_counts(component, doc.meta, int(doc.tokens.size), doc.bytes)


def _drop_counts(drop: Drop) -> Iterator[tuple[tuple, int]]:
    yield ("drop", drop.component, drop.stage, drop.reason), 1
    yield ("src_drop", drop.component, drop.source, drop.reason), 1


def build(pipeline: beam.Pipeline, config: BuildConfig):
    """Wire the whole build into ``pipeline``; returns the PCollection of the manifest URL."""
    counts, drops = [], []
    records, read_drops = pipeline | "ReadSources" >> ReadSources(config)
    drops.append(read_drops)
    # NOTE: counted apart, not through one Flatten: read_drops is a Flatten's output, and a
    # Flatten's output read by two Flattens is refused by Beam's Java fuser, which plans the
    # build on Flink and Spark (apache/beam#34647).
    counts += [count_entering(records, "read"),
               records | "SourceCounts" >> beam.FlatMap(source_counts),
               read_drops | "SourceDropCounts" >> beam.FlatMap(source_counts)]
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
    deduped, dedup_drops, cluster_rows, dedup_counts = clear | "Deduplicate" >> Deduplicate(
        config.dedup)
    drops.append(dedup_drops)
    counts.append(dedup_counts)
    counts += [count_entering(clear, "dedup"), count_entering(deduped, "parse")]
    parsed, parse_drops, pairs, parse_counts = deduped | "ParseCode" >> ParseCode(config)
    drops.append(parse_drops)
    counts.append(parse_counts)

    # Pairs are new documents of their own components: count them in, then dedup them
    # exactly (the same function can sit in two different files).
    counts.append(pairs | "PairsIn" >> beam.FlatMap(
        lambda r: [(("in", r.component, "read"), 1), *source_counts(r)]))
    pairs, pair_drops, pair_rows, _ = pairs | "DedupPairs" >> Deduplicate(
        dataclasses.replace(config.dedup, near=False))
    drops.append(pair_drops)
    to_encode = (parsed, pairs) | "WithPairs" >> beam.Flatten()
    counts.append(count_entering(to_encode, "tokenize"))

    tokenizer = to_encode | "BuildTokenizer" >> BuildTokenizer(config)
    encoded, token_drops, encoder_counts = to_encode | "TokenizeRecords" >> TokenizeRecords(
        tokenizer, {c.name: c.loss_mask for c in config.components})
    drops.append(token_drops)
    counts.append(encoder_counts)
    shards = encoded | "WriteShards" >> WriteShards(
        config.output, config.shards.target_tokens, config.shards.compress, tokenizer)

    all_drops = drops | "AllDrops" >> beam.Flatten()
    drop_log = all_drops | "WriteDropLog" >> WriteDropLog(config.output)
    clusters = ((cluster_rows, pair_rows) | "AllClusterRows" >> beam.Flatten()
                | "WriteClusters" >> WriteSideFile(config.output, CLUSTERS_DIR))
    counts += [
        all_drops | "DropCounts" >> beam.FlatMap(_drop_counts),
        encoded | "KeptCounts" >> beam.FlatMap(_kept_counts)]
    all_counts = (counts | "AllCounts" >> beam.Flatten()
                  # Counters of one key come from several places (pairs): merge them.
                  | "MergeCounts" >> beam.CombinePerKey(sum)
                  | "CountList" >> beam.combiners.ToList())
    return (shards
            | "ShardList" >> beam.combiners.ToList()
            | "Finish" >> beam.Map(_finish, beam.pvalue.AsSingleton(all_counts),
                                   beam.pvalue.AsList(drop_log), beam.pvalue.AsList(clusters),
                                   beam.pvalue.AsSingleton(tokenizer), config))
