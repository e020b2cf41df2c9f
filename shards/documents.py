"""Export the kept documents as text with their metadata: parquet or JSON Lines.

For users who want the corpus rather than its tokens: to read it with
``datasets.load_dataset("parquet", data_files=...)`` or any dataframe library, to audit it,
or to tokenize it again their own way. Each shard becomes one file,
``OUT/<component>/<NNNNN>.parquet`` (or ``.jsonl``), holding its documents in shard order,
so memory holds one shard's text at most and the export is deterministic. Text is decoded
from the tokens with the manifest's tokenizer (the build's tokenizer round-trips any text
exactly); a pair is ``docstring<sep>code`` as stored.

Columns: ``component``, ``id``, ``text``, ``tokens`` (its token count), the shard metadata's
``kind``, ``lang``, ``repo``, ``path``, ``license``, ``source``, ``cluster`` and
``cluster_size``, and ``meta``: every other metadata key (token ranges, a pair's
``source_id``) as a JSON object (a string in parquet, so the schema is the same in every
file).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from typing import Any

import fsspec

from shards.format import Shard, write_bytes_atomic
from shards.manifest import Manifest, resolve

TEXT_FORMATS = ("parquet", "jsonl")
COLUMNS = ("kind", "lang", "repo", "path", "license", "source", "cluster")


def _rows(manifest: Manifest, url: str, shard_path: str, component: str,
          tok: Any) -> Iterator[dict[str, Any]]:
    from tokenizer.encode import decode

    with Shard(resolve(url, shard_path)) as shard:
        for tokens, meta in shard:
            rest = {k: v for k, v in meta.items()
                    if k not in COLUMNS and k not in ("id", "cluster_size")}
            yield {"component": component, "id": meta["id"],
                   "text": decode(tok, tokens.tolist()), "tokens": int(len(tokens)),
                   **{k: meta.get(k) for k in COLUMNS},
                   "cluster_size": int(meta.get("cluster_size", 1)), "meta": rest}


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("component", pa.string()), ("id", pa.string()), ("text", pa.string()),
                        ("tokens", pa.int64()), *((c, pa.string()) for c in COLUMNS),
                        ("cluster_size", pa.int64()), ("meta", pa.string())])
    table = pa.Table.from_pylist(
        [{**r, "meta": json.dumps(r["meta"], sort_keys=True)} for r in rows], schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n"
                   for r in rows).encode("utf-8")


def export_documents(manifest: Manifest, url: str, fmt: str, out: str) -> Iterator[
        tuple[str, str, int]]:
    """Write every shard's documents as ``fmt`` under ``out``; yields ``(component, file,
    documents)`` for each file written."""
    from tokenizer.load import load_tokenizer

    tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
    encode = {"parquet": _parquet, "jsonl": _jsonl}[fmt]
    for comp in manifest.components:
        for entry in comp.shards:
            rows = list(_rows(manifest, url, entry.path, comp.name, tok))
            stem = posixpath.basename(entry.path).split(".", 1)[0]
            dest = posixpath.join(out, comp.name, f"{stem}.{fmt}")
            fs, local = fsspec.core.url_to_fs(dest)
            fs.makedirs(posixpath.dirname(local), exist_ok=True)
            write_bytes_atomic(dest, encode(rows))
            yield comp.name, dest, len(rows)
