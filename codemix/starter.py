"""``codemix init PATH... [--config FILE] [--output DIR]``: a commented starter mixture spec.

Each path becomes one input, its format guessed from what it is: a folder (``folder``; a
git checkout is read as its working tree, and the comment says how to read its commits
instead), an archive, a parquet file or JSON Lines. Code inputs go to a ``code``
component, JSON Lines and parquet (prose dumps, by their usual use) to ``text``. The sizes
are for a first try on a laptop, minutes not hours: a small vocabulary and small shards,
with comments giving the production values.
"""

from __future__ import annotations

import json
import os

ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst", ".zip")
JSONL = (".jsonl", ".jsonl.gz", ".jsonl.bz2", ".jsonl.xz", ".jsonl.zst")


class InitError(ValueError):
    """A path that cannot be an input, or a config file that exists already."""


def input_format(path: str) -> str:
    """The input format for ``path``, by what it is; ``InitError`` when none fits."""
    if os.path.isdir(path):
        return "folder"
    if not os.path.isfile(path):
        raise InitError(f"no such file or folder {path}")
    name = path.lower()
    for fmt, suffixes in (("archive", ARCHIVES), ("jsonl", JSONL), ("parquet", (".parquet",))):
        if name.endswith(suffixes):
            return fmt
    raise InitError(f"{path}: not a folder, an archive ({', '.join(ARCHIVES)}), JSON Lines "
                    f"({', '.join(JSONL)}) or parquet; give the folder that holds it")


def _input_lines(path: str, fmt: str) -> list[str]:
    url = json.dumps(os.path.abspath(path))  # a JSON string is a YAML string
    lines = [f"      - url: {url}", f"        format: {fmt}"]
    if fmt == "folder":
        lines.append('        include: ["**/*"]        # globs; exclude: [...] removes again')
        if os.path.isdir(os.path.join(path, ".git")):
            lines.append("        # a git checkout: `format: git` (and `ref: HEAD`) reads its "
                         "committed tree instead")
    elif fmt in ("jsonl", "parquet"):
        lines.append("        text_field: text         # the column holding the document")
    return lines


def starter_config(paths: list[str], output: str) -> str:
    """The commented YAML of a first build over ``paths``, writing to ``output``."""
    formats = [(p, input_format(p)) for p in paths]
    code = [(p, f) for p, f in formats if f in ("folder", "archive")]
    text = [(p, f) for p, f in formats if f in ("jsonl", "parquet")]
    weights = {"code": 0.8, "text": 0.2} if code and text else {"code": 1.0, "text": 1.0}
    lines = [
        "# A first codemix build, written by `codemix init`. Check it with",
        "#   codemix build THIS.yaml --plan",
        "# then build it with `codemix build THIS.yaml` (every key: docs/configuration.md).",
        f"output: {json.dumps(output)}            # shards, manifest.json, stats.json, "
        "report.html",
        "components:                 # a component is the unit of mixing and sharding"]
    for name, kind, inputs in (("code", "code", code), ("text", "text", text)):
        if not inputs:
            continue
        lines += [f"  {name}:", f"    kind: {kind}", f"    weight: {weights[name]}"
                  "                # share of each mixture epoch (or `epochs: N`)",
                  "    inputs:"]
        for path, fmt in inputs:
            lines += _input_lines(path, fmt)
    if code:
        lines += ["  # function/docstring pairs cut from the code (CodeT5+'s bimodal data):",
                  "  # pairs: {kind: pair, weight: 0.1, pairs_from: [code]}"]
    lines += [
        "dedup: {exact: true, near: true, threshold: 0.7}   # MinHash-LSH at Jaccard 0.7",
        "tokenizer:                  # a small BPE for a first try; 51200 and 5000 in "
        "production",
        "  vocab_size: 8192",
        "  sample_docs: 1000          # documents the BPE is trained on, following the mixture",
        "shards:",
        "  target_tokens: 5000000     # tokens per shard; 50000000 in production",
        "  compress: false            # true: zstd (.shard.zst)",
    ]
    return "\n".join(lines) + "\n"


def write_starter(paths: list[str], config: str, output: str) -> str:
    """Write ``starter_config`` to ``config`` (never over an existing file); returns it."""
    if os.path.exists(config):
        raise InitError(f"{config} exists; give another --config or remove it")
    text = starter_config(paths, output)
    with open(config, "x", encoding="utf-8") as f:
        f.write(text)
    return config
