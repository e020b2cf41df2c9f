"""Shard reads against a raw numpy memmap of the same tokens, and storage per token.

    .venv/bin/python bench/bench_shards.py [--manifest out/demo/manifest.json]

Takes a built corpus (default: the demo's, ``make demo`` or ``codemix build
configs/demo.yaml``), concatenates a component's shards' tokens into one raw ``.bin`` (what
a trainer reading plain arrays would use), and times, in the same run on one core:
random 2048-token windows read through ``shards.Shard`` (``all_tokens()`` view of the
memory map, then a copy) against slices of a raw ``np.memmap``; a sequential scan of
every token both ways; and the bytes per token of the shard files with and without zstd.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timing import timed  # noqa: E402

import numpy as np  # noqa: E402
import zstandard  # noqa: E402

from shards.format import Shard  # noqa: E402
from shards.manifest import load_manifest, resolve  # noqa: E402

WINDOW = 2048



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default=str(ROOT / "out" / "demo" / "manifest.json"))
    parser.add_argument("--component", default=None, help="default: the largest")
    parser.add_argument("--windows", type=int, default=20000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    manifest = load_manifest(args.manifest, verify=False)
    comp = (manifest.component(args.component) if args.component
            else max(manifest.components, key=lambda c: c.tokens))
    shards = [Shard(resolve(args.manifest, e.path)) for e in comp.shards]
    sizes = np.array([s.num_tokens for s in shards])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    total = int(starts[-1])
    rng = np.random.default_rng(0)
    # Windows that fit inside one shard (as a trainer's packed reads do within a file).
    picks = []
    while len(picks) < args.windows:
        s = int(rng.integers(len(shards)))
        if sizes[s] > WINDOW:
            picks.append((s, int(rng.integers(sizes[s] - WINDOW))))
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = pathlib.Path(tmp) / "tokens.bin"
        with open(raw_path, "wb") as f:
            for s in shards:
                f.write(np.asarray(s.all_tokens()).tobytes())
        raw = np.memmap(raw_path, dtype=shards[0].dtype, mode="r")
        views = [s.all_tokens() for s in shards]
        _, t_shard = timed(lambda: [np.array(views[s][o:o + WINDOW]) for s, o in picks])
        _, t_raw = timed(lambda: [np.array(raw[starts[s] + o:starts[s] + o + WINDOW])
                                   for s, o in picks])
        _, t_scan_shard = timed(lambda: sum(int(v.sum(dtype=np.int64)) for v in views))
        _, t_scan_raw = timed(lambda: int(raw.sum(dtype=np.int64)))
        plain = sum(os.path.getsize(resolve(args.manifest, e.path)) for e in comp.shards)
        packed = sum(len(zstandard.ZstdCompressor(level=3).compress(
            pathlib.Path(resolve(args.manifest, e.path)).read_bytes())) for e in comp.shards)
    print(f"\n{comp.name}: {total:,} tokens ({shards[0].dtype.name}) in {len(shards)} shard(s)")
    print(f"random {WINDOW}-token windows x {args.windows}: shard {args.windows / t_shard:,.0f}/s, "
          f"raw memmap {args.windows / t_raw:,.0f}/s -> {t_raw / t_shard:.2f}x raw")
    print(f"sequential scan: shard {total / t_scan_shard / 1e6:,.0f} M tokens/s, raw memmap "
          f"{total / t_scan_raw / 1e6:,.0f} M tokens/s -> {t_scan_raw / t_scan_shard:.2f}x raw")
    print(f"bytes per token: {plain / total:.3f} plain, {packed / total:.3f} zstd (level 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
