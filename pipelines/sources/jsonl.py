"""JSON Lines documents, plain or compressed (``.gz``, ``.bz2``, ``.zst``/``.zstd``...).

``url`` is a file or a glob of files. Each line is one document whose text is
``text_field``; optional ``repo``, ``path``, ``license`` and ``lang`` fields are kept.
A line that is not a JSON object is dropped as ``bad_json``, one without a string text
as ``no_text``; a file that cannot be opened or decompressed is one ``unreadable`` drop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import fsspec

from pipelines.accounting import Drop
from pipelines.config import InputSpec
from pipelines.records import Record, record_id

_KEPT_FIELDS = ("repo", "path", "license", "lang")


def list_units(spec: InputSpec) -> list[str]:
    fs, _ = fsspec.core.url_to_fs(spec.url)
    files = fs.expand_path(spec.url) if fsspec.core.has_magic(spec.url) else [spec.url]
    protocol = spec.url.split("://", 1)[0] + "://" if "://" in spec.url else ""
    return sorted(p if p.startswith(protocol) else protocol + p for p in files
                  if not fs.isdir(p))


def parse_line(line: str, *, text_field: str, source: str, component: str,
               kind: str) -> Record | Drop:
    """One JSONL line as a record, or the reason it cannot be one."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return Drop(component, "read", "bad_json", source)
    if not isinstance(obj, dict):
        return Drop(component, "read", "bad_json", source)
    text = obj.get(text_field)
    if not isinstance(text, str):
        return Drop(component, "read", "no_text", source)
    fields = {k: str(obj[k]) for k in _KEPT_FIELDS if isinstance(obj.get(k), (str, int))}
    meta = {k: v for k, v in obj.items() if k != text_field and k not in _KEPT_FIELDS
            and isinstance(v, (str, int, float, bool))}
    return Record(id=record_id(source, text), text=text, kind=kind,
                  lang=fields.get("lang", ""), component=component,
                  repo=fields.get("repo", ""), path=fields.get("path", source),
                  license=fields.get("license", ""), meta=meta)


def read_unit(spec: InputSpec, component: str, kind: str, unit: str) -> Iterator[Record | Drop]:
    try:
        with fsspec.open(unit, "rt", encoding="utf-8", errors="strict",
                         compression="infer") as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    yield parse_line(line, text_field=spec.text_field,
                                     source=f"{unit}#{number}", component=component,
                                     kind=kind)
    except (OSError, UnicodeDecodeError, EOFError, ValueError):
        # The lines already yielded stand; the rest of the file is lost as one drop.
        yield Drop(component, "read", "unreadable", unit)
