"""One row of fields (a JSONL object, a parquet row) as a record.

Text dumps name their fields freely, so the input spec says which field holds the text and
which ones the repo, path, license and language; other scalar fields are kept in ``meta``.
The text goes through ``pipelines.charset`` like a file's bytes do, so binary content and
text that is not UTF-8 (a JSON string with a lone surrogate, a binary column) follow the
same rules whatever the format.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

from pipelines.accounting import Drop
from pipelines.charset import Decoded, decode
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record, record_id


def text_bytes(value: Any) -> bytes | None:
    """A text field's value as bytes (a ``str`` as UTF-8, lone surrogates kept so that
    decoding can judge them), or None when it holds no text (missing, null, a number)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return None


def json_scalar(value: Any) -> str | int | float | bool | None:
    """A field's value as a JSON scalar for ``meta``: strings, booleans, integers and finite
    floats as they are, dates and times as ISO 8601; None for anything else (lists, maps,
    bytes, NaN), which ``meta`` leaves out."""
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return None


def label(value: Any) -> str:
    """A field's value as a record label (repo, path, license, language): strings and
    numbers as text, a list of strings joined by `` AND `` (licenses), else empty."""
    if isinstance(value, (list, tuple)):
        return " AND ".join(v for v in value if isinstance(v, str) and v)
    scalar = json_scalar(value)
    return "" if scalar is None or isinstance(scalar, bool) else str(scalar)


def row_record(row: Mapping[str, Any], *, spec: InputSpec, comp: ComponentSpec,
               location: str) -> Record | Drop:
    """A row of fields as a record, or the ``read`` drop saying why it cannot be one.

    Args:
        row: field name -> value (JSON values, or what pyarrow's ``to_pylist`` gives).
        spec: the input: ``text_field`` names the text; ``repo_field``, ``path_field``,
            ``license_field`` and ``lang_field`` the labels; ``meta_fields`` the fields kept
            in ``meta`` (None: every other scalar field); ``max_bytes`` caps the text.
        comp: the component (name, kind, and the ``clean`` rules for decoding).
        location: where the row is, e.g. ``url@offset``: it names a drop, is part of the
            record id, and is the path when the row has none.

    Returns:
        The record (id from ``location`` and the text; ``meta`` holds the kept fields,
        ``bytes`` and any decoding edit), or a drop: ``no_text`` (no string or binary text
        field), ``too_large`` (text over ``max_bytes``), ``binary`` or ``not_utf8``.
    """
    data = text_bytes(row.get(spec.text_field))
    if data is None:
        return Drop(comp.name, "read", "no_text", location, spec.label)
    if len(data) > spec.max_bytes:
        return Drop(comp.name, "read", "too_large", location, spec.label, len(data))
    decoded = decode(data, comp.clean)
    if not isinstance(decoded, Decoded):
        return Drop(comp.name, "read", decoded, location, spec.label, len(data))
    labels = (spec.text_field, spec.repo_field, spec.path_field, spec.license_field,
              spec.lang_field)
    kept = spec.meta_fields if spec.meta_fields is not None else row.keys()
    meta = {k: v for k in kept if k not in labels and k in row
            and (v := json_scalar(row[k])) is not None}
    meta["bytes"] = len(data)
    if decoded.edit:
        meta["edits"] = {decoded.edit: 1}
    return Record(id=record_id(location, decoded.text), text=decoded.text, kind=comp.kind,
                  lang=label(row.get(spec.lang_field)), component=comp.name,
                  repo=label(row.get(spec.repo_field)),
                  path=label(row.get(spec.path_field)) or location,
                  license=label(row.get(spec.license_field)), meta=meta, source=spec.label)
