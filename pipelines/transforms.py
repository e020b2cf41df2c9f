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
from collections.abc import Iterator

import apache_beam as beam

from pipelines.accounting import Drop
from pipelines.clean import NO_LICENSE, CleanRecords
from pipelines.config import BuildConfig
from pipelines.decontam import Decontaminate
from pipelines.deduplicate import Deduplicate
from pipelines.droplog import WriteDropLog
from pipelines.ingest import ReadSources, source_counts
from pipelines.parse.transform import ParseCode
from pipelines.pii import RedactRecords
from pipelines.profile import kept_counts
from pipelines.records import Record
from pipelines.results import CLUSTERS_DIR, finish
from pipelines.sharding import WriteShards
from pipelines.sidefile import WriteSideFile
from pipelines.stage import count_entering
from pipelines.tokenizing import BuildTokenizer, EncodedDoc, TokenizeRecords


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
    yield ("src_drop", drop.component, drop.source, drop.stage, drop.reason), 1
    if drop.detail == NO_LICENSE:
        yield ("src_unlicensed", drop.component, drop.source, drop.repo), 1


def build(pipeline: beam.Pipeline, config: BuildConfig, root: str):
    """Wire the whole build into ``pipeline``, writing every file under ``root`` (the
    output's staging area, ``pipelines.staging``); returns the PCollection of the manifest
    URL."""
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

    tokenizer = to_encode | "BuildTokenizer" >> BuildTokenizer(config, root)
    encoded, token_drops, encoder_counts = to_encode | "TokenizeRecords" >> TokenizeRecords(
        tokenizer, {c.name: c.loss_mask for c in config.components})
    drops.append(token_drops)
    counts.append(encoder_counts)
    shards = encoded | "WriteShards" >> WriteShards(
        root, config.shards.target_tokens, config.shards.compress, tokenizer)

    all_drops = drops | "AllDrops" >> beam.Flatten()
    drop_log = all_drops | "WriteDropLog" >> WriteDropLog(root)
    clusters = ((cluster_rows, pair_rows) | "AllClusterRows" >> beam.Flatten()
                | "WriteClusters" >> WriteSideFile(root, CLUSTERS_DIR))
    counts += [
        all_drops | "DropCounts" >> beam.FlatMap(_drop_counts),
        encoded | "KeptCounts" >> beam.FlatMap(_kept_counts)]
    all_counts = (counts | "AllCounts" >> beam.Flatten()
                  # Counters of one key come from several places (pairs): merge them.
                  | "MergeCounts" >> beam.CombinePerKey(sum)
                  | "CountList" >> beam.combiners.ToList())
    return (shards
            | "ShardList" >> beam.combiners.ToList()
            | "Finish" >> beam.Map(finish, beam.pvalue.AsSingleton(all_counts),
                                   beam.pvalue.AsList(drop_log), beam.pvalue.AsList(clusters),
                                   beam.pvalue.AsSingleton(tokenizer), config, root))
