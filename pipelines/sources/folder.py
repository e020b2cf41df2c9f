"""A folder of source files (a repo checkout, an unpacked archive, a Python install).

One file is one document. Bytes are decoded as UTF-8 (a leading BOM is removed); a file
with NUL bytes is ``binary`` and one that is not UTF-8 is ``not_utf8``, both at the read
stage; a file that vanished or cannot be opened is ``unreadable``.
"""

from __future__ import annotations

from collections.abc import Iterator

import fsspec

from pipelines.accounting import Drop
from pipelines.config import InputSpec
from pipelines.records import Record, record_id
from pipelines.sources.listing import join, list_files, source_name


def list_units(spec: InputSpec) -> list[str]:
    return list_files(spec.url, spec.include, spec.exclude, spec.max_files)


def decode(data: bytes) -> str | None:
    """Text of a file, or None when it is binary (has NUL) or not UTF-8."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None


def to_record(data: bytes, *, repo: str, path: str, component: str,
              kind: str) -> Record | Drop:
    """One file's bytes as a record, or the reason it cannot be one."""
    source = f"{repo}:{path}"
    if b"\0" in data:
        return Drop(component, "read", "binary", source)
    text = decode(data)
    if text is None:
        return Drop(component, "read", "not_utf8", source)
    return Record(id=record_id(source, text), text=text, kind=kind, lang="",
                  component=component, repo=repo, path=path, meta={"bytes": len(data)})


def read_unit(spec: InputSpec, component: str, kind: str, unit: str) -> Iterator[Record | Drop]:
    repo = source_name(spec.url, spec.name)
    try:
        with fsspec.open(join(spec.url, unit), "rb") as f:
            data = f.read()
    except OSError:
        yield Drop(component, "read", "unreadable", f"{repo}:{unit}")
        return
    yield to_record(data, repo=repo, path=unit, component=component, kind=kind)
