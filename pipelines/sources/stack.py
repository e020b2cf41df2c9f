"""The Stack (v1 and v2) parquet files: one row is one source file of a repository.

The two versions name their columns differently; each field is read from the first column
of its list in ``COLUMNS`` that the file has and the row holds a value in:

- v1 (``bigcode/the-stack``): ``content``, ``max_stars_repo_path``,
  ``max_stars_repo_name``, ``lang``, ``max_stars_repo_licenses`` (a list),
  ``max_stars_count``, ``max_stars_repo_stars_event_min_datetime``, ``hexsha``;
- v2 (``bigcode/the-stack-v2``): ``content``, ``path``, ``repo_name``, ``language``,
  ``detected_licenses`` (a list; when it is empty ``gha_license_id``, then
  ``license_type``, whose ``no_license`` means none), ``star_events_count``,
  ``revision_date``/``committer_date``/``visit_date``, ``blob_id``.

Rows become records like files of a repository do (``pipelines.sources.document``): the
id comes from ``repo:path`` and the text, the content is decoded by the component's
``clean`` rules. Stars, date (ISO 8601, UTC) and blob id go into ``meta``, where dedup's
keep-rank reads them. Files are split by row groups and read as ``pipelines.sources.
parquet`` does; a file without a content, path or repo column is one ``wrong_schema`` drop.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record
from pipelines.sources.document import file_record
from pipelines.sources.fields import label, text_bytes
from pipelines.sources.parquet import row_group_units, rows
from pipelines.sources.unit import Unit

COLUMNS: dict[str, tuple[str, ...]] = {
    "content": ("content",),
    "path": ("path", "max_stars_repo_path"),
    "repo": ("repository_name", "repo_name", "max_stars_repo_name"),
    "lang": ("lang", "language"),
    "licenses": ("licenses", "detected_licenses", "max_stars_repo_licenses"),
    "license": ("gha_license_id", "license_type"),
    "stars": ("max_stars_count", "star_events_count"),
    "date": ("max_stars_repo_stars_event_min_datetime", "revision_date", "committer_date",
             "visit_date"),
    "blob": ("hexsha", "blob_id"),
}
"""Record field -> the column names that hold it in v1 and v2, in order of preference."""

REQUIRED = ("content", "path", "repo")
"""Fields without which a row is not a repository's file."""


def _missing(schema: pa.Schema) -> list[str]:
    return ["|".join(COLUMNS[field]) for field in REQUIRED
            if not set(COLUMNS[field]).intersection(schema.names)]


def _columns(schema: pa.Schema) -> list[str]:
    return [c for candidates in COLUMNS.values() for c in candidates if c in schema.names]


def _values(row: dict[str, Any]) -> dict[str, Any]:
    """Record field -> the row's value in the first of its columns that is not null."""
    return {field: next((row[c] for c in candidates if row.get(c) is not None), None)
            for field, candidates in COLUMNS.items()}


def iso_date(value: Any) -> str:
    """A date column's value as ISO 8601 in UTC (``2015-01-02T03:04:05Z``), so dates of
    both versions compare as strings; a string that is no ISO date is kept as it is, and
    a missing value is empty. Naive times are taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return ""


def _stars(value: Any) -> int | None:
    """Star count as an integer (v1 files store it as a float with nulls)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if math.isfinite(value) else None


def row_file(row: dict[str, Any], *, spec: InputSpec, comp: ComponentSpec,
             location: str) -> Record | Drop:
    """One row as a repository file's record, or the ``read`` drop saying why it cannot be
    one (``no_text``, ``too_large``, ``binary``, ``not_utf8``).

    Args:
        row: column name -> value, for the columns ``COLUMNS`` names.
        spec: the input (``max_bytes``, and its label).
        comp: the component (name, kind, ``clean`` rules).
        location: ``url#row``, which names a drop.
    """
    values = _values(row)
    data = text_bytes(values.get("content"))
    if data is None:
        return Drop(comp.name, "read", "no_text", location, spec.label)
    if len(data) > spec.max_bytes:
        return Drop(comp.name, "read", "too_large", location, spec.label, len(data))
    meta: dict[str, Any] = {}
    if (stars := _stars(values.get("stars"))) is not None:
        meta["stars"] = stars
    if date := iso_date(values.get("date")):
        meta["date"] = date
    if blob := label(values.get("blob")):
        meta["blob"] = blob
    record = file_record(data, spec=spec, comp=comp, repo=label(values.get("repo")),
                         path=label(values.get("path")) or location, location=location,
                         meta=meta)
    if isinstance(record, Drop):
        return record
    license = label(values.get("licenses")) or label(values.get("license"))
    return record.replace(lang=label(values.get("lang")).lower(),
                          license="" if license == "no_license" else license)


def list_units(spec: InputSpec, comp: ComponentSpec) -> Iterator[Unit | Drop]:
    """Row-group ranges of The Stack's parquet files; a file missing the content, path or
    repo column is one ``wrong_schema`` drop naming them."""
    return row_group_units(spec, comp, _missing)


def read_unit(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop]:
    """One record or drop per row (see ``row_file``), plus the drops of reading."""
    for item in rows(spec, comp, unit, _columns):
        if isinstance(item, Drop):
            yield item
        else:
            location, row = item
            yield row_file(row, spec=spec, comp=comp, location=location)
