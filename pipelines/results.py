"""The end of a build: stats.json and manifest.json from the build's counts and shards.

``finish`` runs once, after every shard and side file is written: it writes stats.json,
then the manifest (the commit point), and only for a build whose every document is
accounted for.
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.accounting import funnel
from pipelines.config import BuildConfig
from pipelines.droplog import DROP_LOG_DIR
from pipelines.parse.transform import parse_stats
from pipelines.profile import profile
from pipelines.sidefile import write_part
from pipelines.tokenizing import TOKENIZER_NAME, TokenizerArtifact
from shards.format import dtype_for_vocab, write_bytes_atomic
from shards.manifest import (MANIFEST_NAME, MANIFEST_VERSION, ComponentEntry, Manifest,
                             ShardEntry, TokenizerEntry, config_hash, write_manifest)

STATS_NAME = "stats.json"
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


def finish(shards: list[tuple[str, ShardEntry]], counts: list, drop_log: list[str],
            clusters: list[str], art: TokenizerArtifact, config: BuildConfig, root: str) -> str:
    """Write stats.json, then manifest.json: the manifest is the commit point, so last, and
    only for a build whose every document is accounted for."""
    out = root.rstrip("/")
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

