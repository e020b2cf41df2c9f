"""``codemix build CONFIG --plan``: what a build would read, do and write, and how long it
would take, without writing anything.

The config is validated as the build validates it (benchmark sets loaded, a given tokenizer
checked, the pipeline graph constructed but not run). Then every input is listed, here in
this process, by the same ``list_units`` the pipeline runs: the plan trades the build's
distributed listing for an answer before anything runs. Files are sized with one ``stat``
each (parquet files also give their row count from their footer); a git checkout's blobs are
not sized. The time estimate divides the bytes by per-core rates measured by ``bench/``
(``RATES_MB_S``): a floor for DirectRunner (which adds about 2× of its own), divided by the
core count on a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import fsspec

from dedup.lsh import candidate_probability, implied_threshold
from pipelines import sources
from pipelines.accounting import Drop
from pipelines.config import BuildConfig, ComponentSpec, DedupSpec, InputSpec
from pipelines.rates import RATES_MB_S

BYTES_PER_TOKEN = 3.74
"""Bytes of code per token of a 51,200-token code BPE (``bench/bench_encode.py``), for the
estimated shard counts."""

S_CURVE_AT = (0.5, 0.6, 0.7, 0.8, 0.9)


def _size(fs: Any, path: str) -> int | None:
    try:
        return int(fs.size(path))
    except (OSError, ValueError, TypeError):
        return None


def _parquet_rows(fs: Any, path: str) -> int | None:
    import pyarrow.parquet as pq

    try:
        with fs.open(path, "rb") as f:
            return pq.ParquetFile(f).metadata.num_rows
    except (OSError, ValueError):
        return None


def survey_input(spec: InputSpec, comp: ComponentSpec) -> dict[str, Any]:
    """What one input would give the build: ``units`` (files or parts), ``files``
    (distinct), ``bytes`` (of the files that could be sized; None when none could),
    ``rows`` (parquet formats), ``unsized`` files, and listing ``drops`` by reason."""
    units, files, drops = 0, set(), {}
    for item in sources.list_units(spec, comp):
        if isinstance(item, Drop):
            drops[item.reason] = drops.get(item.reason, 0) + 1
            continue
        units += 1
        files.add(item.path)
    sized: list[int] = []
    rows: int | None = None
    if spec.format != "git":  # a checkout's working tree is not what the build reads
        for path in files:
            # A folder's units are relative to the input; every other format's are URLs.
            url = f"{spec.url.rstrip('/')}/{path}" if spec.format == "folder" else path
            fs, full = fsspec.core.url_to_fs(url)
            size = _size(fs, full)
            if size is not None:
                sized.append(size)
            if spec.format in ("parquet", "stack"):
                n = _parquet_rows(fs, full)
                rows = (rows or 0) + (n or 0)
    return {"units": units, "files": len(files), "bytes": sum(sized) if sized else None,
            "unsized": len(files) - len(sized), "rows": rows, "drops": dict(sorted(drops.items()))}


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


def stage_estimates(config: BuildConfig, bytes_by_comp: dict[str, int]) -> list[tuple[str, float,
                                                                                     float]]:
    """``(stage, MB, seconds on one core)`` for each stage, from ``RATES_MB_S``: every
    stage reads all the input bytes but ``parse`` (code components only) and ``tokenizer``
    (its sample, at most ``sample_docs × sample_chars`` characters)."""
    total = sum(bytes_by_comp.values())
    code = sum(n for name, n in bytes_by_comp.items() if config.component(name).kind == "code")
    spec = config.tokenizer
    sample = 0 if spec.path else min(total, spec.sample_docs * spec.sample_chars)
    sizes = {stage: total for stage in RATES_MB_S}
    sizes.update(parse=code, tokenizer=sample)
    return [(stage, sizes[stage] / 1e6, sizes[stage] / 1e6 / rate)
            for stage, rate in RATES_MB_S.items()]


def plan_lines(config: BuildConfig) -> Iterator[str]:
    """The plan, line by line, for printing."""
    yield "inputs (listed now, as the build would list them):"
    bytes_by_comp: dict[str, int] = {}
    unsized = False
    for comp in config.components:
        if comp.kind == "pair":
            yield f"  {comp.name}: function/docstring pairs cut from {', '.join(comp.pairs_from)}"
            continue
        for spec in comp.inputs:
            s = survey_input(spec, comp)
            size = "size unknown" if s["bytes"] is None else _mb(s["bytes"])
            if s["unsized"] and s["bytes"] is not None:
                size += f" (+{s['unsized']} files not sized)"
            unsized = unsized or s["bytes"] is None or s["unsized"] > 0
            rows = f", {s['rows']:,} rows" if s["rows"] is not None else ""
            drops = "".join(f"; listing drops {r} {n}" for r, n in s["drops"].items())
            yield (f"  {comp.name} / {spec.label}: {spec.format} {spec.url}: {s['files']:,} "
                   f"files in {s['units']:,} units{rows}, {size}{drops}")
            bytes_by_comp[comp.name] = bytes_by_comp.get(comp.name, 0) + (s["bytes"] or 0)
    yield ("stages: read -> clean -> filter -> redact -> decontam -> dedup -> parse -> "
           "tokenizer (train BPE" + (", given" if config.tokenizer.path else "") +
           ") -> tokenize -> write shards, stats.json, report.html, manifest.json")
    yield from _dedup_lines(config.dedup)
    total = sum(bytes_by_comp.values())
    estimates = stage_estimates(config, bytes_by_comp)
    sized_only = " for the sized bytes only" if unsized else ""
    yield ("time on one core (per-core rates measured by bench/; DirectRunner adds about 2x, "
           f"a cluster of N cores divides by about N){sized_only}:")
    for stage, mb, seconds in estimates:
        yield (f"  {stage:<10} {mb:>12,.1f} MB at {RATES_MB_S[stage]:>5.1f} MB/s  "
               f"{_duration(seconds)}")
    total_s = sum(seconds for _, _, seconds in estimates)
    yield f"  {'total':<10} {total / 1e6:>12,.1f} MB{'':>15}{_duration(total_s)}"
    yield from _output_lines(config, bytes_by_comp)
    yield "nothing was written"


def _dedup_lines(spec: DedupSpec) -> Iterator[str]:
    if not spec.near:
        yield f"dedup: exact {'on' if spec.exact else 'off'}, near off"
        return
    bands, rows = spec.lsh_params()
    curve = ", ".join(f"{s:.1f}: {candidate_probability(s, bands, rows):.3f}" for s in S_CURVE_AT)
    yield (f"dedup: exact {'on' if spec.exact else 'off'}; near: {spec.num_perm} permutations, "
           f"LSH {bands} bands x {rows} rows (S-curve steepest at "
           f"{implied_threshold(bands, rows):.2f}), threshold {spec.threshold}, verify "
           f"{spec.verify}")
    yield f"  P(candidate) at Jaccard {curve}"


def _output_lines(config: BuildConfig, bytes_by_comp: dict[str, int]) -> Iterator[str]:
    out = config.output.rstrip("/")
    ext = ".shard.zst" if config.shards.compress else ".shard"
    yield (f"output {out}/: manifest.json (written last), tokenizer.json, stats.json, "
           "report.html, drops/part-NNNNN.jsonl, clusters/part-NNNNN.jsonl")
    for comp in config.components:
        tokens = bytes_by_comp.get(comp.name, 0) / BYTES_PER_TOKEN
        shards = max(1, math.ceil(tokens / config.shards.target_tokens))
        estimate = (f"~{shards} shard(s) from ~{tokens / 1e6:,.1f}M tokens before drops"
                    if comp.kind != "pair" else "shards as its pairs need")
        yield f"  {comp.name}/NNNNN{ext}: {estimate}"
