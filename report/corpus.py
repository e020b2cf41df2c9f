"""The build's part of the report: what went in, what was dropped and why, what was kept.

Everything comes from the output folder: ``stats.json`` (the funnel, the profile, the
timings), ``manifest.json`` (weights, epochs, tokens) and the side files. The clusters are
streamed row by row, keeping only a histogram and the largest few, so memory does not grow
with the corpus; then the largest clusters' kept documents are looked up in the shards, and
a few of their dropped members in the drop log (whose dedup rows name the path), for
example paths.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from typing import Any

import fsspec

from pipelines.accounting import TIMED_STAGES
from report.page import paragraph, section, table
from report.svg import bars, histogram, no_data, stacked
from shards.format import Shard
from shards.manifest import Manifest, load_manifest, resolve
from training.data.sampler import MixtureError, token_plan

LARGEST_CLUSTERS = 10
EXAMPLES = 3
"""Dropped members shown per large cluster."""


def _read_json(url: str) -> Any:
    with fsspec.open(url, "rt") as f:
        return json.load(f)


def _summed(tables: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-key sums over several ``{key: n}`` or ``{key: {field: n}}`` tables."""
    out: dict[str, Any] = {}
    for table_ in tables:
        for key, value in table_.items():
            if isinstance(value, dict):
                row = out.setdefault(key, {})
                for field, n in value.items():
                    row[field] = row.get(field, 0) + n
            else:
                out[key] = out.get(key, 0) + value
    return out


def _funnel_parts(entry: dict[str, Any]) -> dict[str, float]:
    return {"kept": entry["kept"], **{f"dropped: {r}": n for r, n in entry["dropped"].items()}}


def _funnel(stats: dict[str, Any]) -> str:
    comps = stats["components"]
    per_comp = [(name, _funnel_parts(c)) for name, c in comps.items()]
    per_input = [(f"{name} / {label}", _funnel_parts(src)) for name, c in comps.items()
                 for label, src in c["sources"].items()]
    rows = [[name, c["in"], c["bytes_in"] / 1e6, c["kept"], sum(c["dropped"].values()),
             ", ".join(f"{r} {n}" for r, n in c["dropped"].items()) or "none"]
            for name, c in comps.items()]
    return section(
        "Funnel: in, dropped by reason, kept",
        paragraph("Every document read ends either kept or dropped for one named reason; "
                  "the drop log lists each dropped one."),
        table(["component", "in", "MB in", "kept", "dropped", "reasons"], rows),
        stacked("funnel-components", "Per component", per_comp),
        stacked("funnel-inputs", "Per input", per_input))


def _languages_licenses(profile: dict[str, Any]) -> str:
    langs = _summed([p["languages"] for p in profile.values()])
    lics = _summed([p["licenses"] for p in profile.values()])

    def ranked(table_: dict[str, Any], field: str) -> list[tuple[str, float]]:
        return sorted(((k, v.get(field, 0)) for k, v in table_.items()), key=lambda kv: -kv[1])

    per_token = sorted(((lang, v["bytes"] / v["tokens"]) for lang, v in langs.items()
                        if v.get("tokens")), key=lambda kv: -kv[1])
    return "".join([
        section("Languages",
                bars("languages-docs", "Kept documents by language", ranked(langs, "docs")),
                bars("languages-tokens", "Tokens by language", ranked(langs, "tokens"))),
        section("Licenses",
                bars("licenses-docs", "Kept documents by license", ranked(lics, "docs")),
                bars("licenses-tokens", "Tokens by license", ranked(lics, "tokens"))),
        section("Bytes per token by language",
                paragraph("UTF-8 bytes of text per token: how well the tokenizer compresses "
                          "each language (higher is better)."),
                bars("bytes-per-token", "Bytes per token", per_token))])


def _lengths(profile: dict[str, Any]) -> str:
    charts = []
    for name, p in profile.items():
        hist = {int(k): n for k, n in p["length_tokens"].items()}
        if not hist:
            charts.append(no_data(f"{name}: document length", "no kept documents"))
            continue
        bins, b = [], min(hist)
        while b <= max(hist):
            bins.append((f"{b:,}", hist.get(b, 0)))
            b *= 2
        charts.append(histogram(f"lengths-{name}", f"{name}: documents by length",
                                bins, "tokens (bin starts; each bin is twice the last)"))
    return section("Document lengths", *charts)


def _rows(out: str, files: list[str]) -> Iterator[dict[str, Any]]:
    for rel in files:
        with fsspec.open(f"{out}/{rel}", "rt") as f:
            for line in f:
                yield json.loads(line)


def _keeper_paths(manifest_url: str, manifest: Manifest, ids: set[str]) -> dict[str, str]:
    """``id -> repo/path`` of the kept documents named by ``ids``, read from the shards'
    metadata (stops once all are found)."""
    found: dict[str, str] = {}
    for comp in manifest.components:
        for entry in comp.shards:
            if len(found) == len(ids):
                return found
            with Shard(resolve(manifest_url, entry.path)) as shard:
                for meta in shard.metas():
                    if meta["id"] in ids:
                        found[meta["id"]] = f"{meta.get('repo') or ''}/{meta.get('path') or ''}"
    return found


def _clusters(out: str, stats: dict[str, Any], manifest_url: str, manifest: Manifest) -> str:
    sizes: dict[tuple[str, int], int] = {}
    largest: list[tuple[int, str, str]] = []
    for row in _rows(out, stats.get("clusters", [])):
        if not row["kept"]:
            continue
        key = (row["kind"], row["size"])
        sizes[key] = sizes.get(key, 0) + 1
        item = (row["size"], row["cluster"], row["kind"])
        if len(largest) < LARGEST_CLUSTERS:
            heapq.heappush(largest, item)
        else:
            heapq.heappushpop(largest, item)
    dedup = stats.get("dedup", {})
    counts = paragraph(
        f"Near-duplicate candidate pairs {dedup.get('candidates', 0):,}, rejected by "
        f"verification {dedup.get('rejected', 0):,}, members merged through a chain "
        f"{dedup.get('chained', 0):,}.")
    if not sizes:
        return section("Duplicate clusters", counts,
                       no_data("Cluster sizes", "no exact or near duplicates were found"))
    top = sorted(largest, reverse=True)
    paths = _keeper_paths(manifest_url, manifest, {c for _, c, _ in top})
    examples = _dropped_examples(out, stats, {c for _, c, _ in top})
    chart = stacked("cluster-sizes", "Clusters by size (documents in the cluster)",
                    [(f"{size:,} documents", {kind: n for (kind, s), n in sizes.items()
                                              if s == size})
                     for size in sorted({s for _, s in sizes})])
    rows = [[size, kind, paths.get(cluster, "(kept document not in the shards)"),
             ", ".join(examples.get(cluster, [])) or "-"] for size, cluster, kind in top]
    return section("Duplicate clusters", counts, chart,
                   table(["size", "kind", "kept copy (repo/path)",
                          f"dropped copies (up to {EXAMPLES})"], rows))


def _dropped_examples(out: str, stats: dict[str, Any], clusters: set[str]) -> dict[str, list[str]]:
    """Up to ``EXAMPLES`` dropped members' ``repo/path`` for each cluster in ``clusters``:
    their ids from the clusters side file, their paths from the drop log's dedup rows."""
    members: dict[str, str] = {}
    taken: dict[str, int] = {}
    for row in _rows(out, stats.get("clusters", [])):
        cluster = row["cluster"]
        if cluster in clusters and not row["kept"] and taken.get(cluster, 0) < EXAMPLES:
            members[row["id"]] = cluster
            taken[cluster] = taken.get(cluster, 0) + 1
    found: dict[str, list[str]] = {}
    for row in _rows(out, stats.get("drop_log", [])):
        if row["stage"] == "dedup" and row["id"] in members:
            found.setdefault(members[row["id"]], []).append(row["detail"])
    return {cluster: sorted(paths) for cluster, paths in found.items()}


def _edits_and_parse(stats: dict[str, Any], profile: dict[str, Any]) -> str:
    edits = _summed([c["edits"] for c in stats["components"].values()])
    parse = _summed([p["parse"] for p in profile.values()])
    return "".join([
        section("Redactions and other edits",
                bars("edits", "Edits by kind (redactions, transcodings, decontamination cuts)",
                     sorted(edits.items(), key=lambda kv: -kv[1]))),
        section("Parse health",
                stacked("parse-health", "Parsed code by language: clean or dropped",
                        sorted(parse.items())))])


def _passes(manifest: Manifest) -> dict[str, float]:
    """Passes over each component per mixture epoch (``training.data.sampler.token_plan``)."""
    try:
        plan = token_plan(manifest.components)
    except MixtureError:
        return {}
    return {name: (m / n if n else 0.0)
            for name, n, m in zip(plan.names, plan.sequences, plan.counts)}


def _mixture(manifest: Manifest) -> str:
    passes = _passes(manifest)
    rows = [[c.name, c.kind, c.docs, c.tokens,
             c.weight if c.weight is not None else "", c.epochs if c.epochs is not None else "",
             round(passes.get(c.name, 0.0), 3), len(c.shards)] for c in manifest.components]
    return section(
        "Mixture",
        paragraph("Passes per mixture epoch: how many times a training epoch of the "
                  "mixture goes over each component (above 1, its documents repeat)."),
        table(["component", "kind", "documents", "tokens", "weight", "epochs",
               "passes per mixture epoch", "shards"], rows),
        bars("mixture-tokens", "Tokens per component",
             [(c.name, c.tokens) for c in manifest.components]),
        bars("mixture-passes", "Passes per mixture epoch", sorted(passes.items())))


def _timings(stats: dict[str, Any]) -> str:
    timings = stats.get("timings")
    if not timings:
        return section("Stage timings", no_data("Stage timings", "this build recorded none"))
    stages = timings["stages"]
    order = [s for s in TIMED_STAGES if s in stages] + sorted(set(stages) - set(TIMED_STAGES))
    rows = [(s, {"CPU": stages[s]["cpu_s"],
                 "waiting (wall − CPU)": max(0.0, stages[s]["wall_s"] - stages[s]["cpu_s"])})
            for s in order]
    build = timings["build"]
    return section(
        "Stage timings",
        paragraph(f"The whole build: {build['wall_s']:,.1f} s wall, {build['cpu_s']:,.1f} s "
                  "CPU. Per stage: seconds spent in the stage's own functions, summed over "
                  "workers."),
        stacked("timings", "Seconds per stage", rows))


def corpus_sections(out: str) -> list[str]:
    """The build's sections of the report, for the output folder ``out`` (a URL)."""
    out = out.rstrip("/")
    stats = _read_json(f"{out}/stats.json")
    manifest_url = f"{out}/manifest.json"
    manifest = load_manifest(manifest_url, verify=False)
    profile = stats.get("profile", {})
    return [_funnel(stats), _mixture(manifest), _languages_licenses(profile),
            _lengths(profile), _clusters(out, stats, manifest_url, manifest),
            _edits_and_parse(stats, profile), _timings(stats)]
