"""Parquet text dumps (The Pile, RedPajama style), and the row-group reading that The
Stack (``pipelines.sources.stack``) shares.

``url`` is a file or a glob of files. Each row is one document whose text is the
``text_field`` column (string, or binary decoded by the component's ``clean`` rules); the
other columns map onto the record as ``pipelines.sources.fields`` says. A row's location
is ``url#row`` (its index in the file), which names its drops and is part of its record id.

A file is split into units of consecutive row groups holding about ``split_bytes`` of
data, so many workers share one big file; a row group is the smallest unit (parquet
cannot be entered inside one). A unit is read in batches of a few rows and only
the needed columns, which bounds memory by the batch, not the file. Files are checked
when listed: one that is not parquet (or whose footer is cut) is one ``unreadable``
drop, one without the needed columns one ``wrong_schema`` drop naming them. A row group
that fails to decode while read is one ``unreadable`` drop; the rows before it stand and
the next row group is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record
from pipelines.sources.fields import row_record
from pipelines.sources.files import matching_files, open_file
from pipelines.sources.reading import NotRegularFile
from pipelines.sources.unit import Unit

BATCH_ROWS = 64
"""Rows decoded at a time: a batch of ``max_bytes`` documents must fit a worker."""

ERRORS = (pa.ArrowException, OSError, EOFError, ValueError, OverflowError, IndexError)
"""What a damaged or changed parquet file can raise while read (pyarrow's own errors, I/O
errors, and conversions of out-of-range values to Python)."""

Columns = Callable[[pa.Schema], list[str]]
"""Given a file's schema, a list of column names (needed but missing, or to read)."""


def _groups(metadata: pq.FileMetaData, split_bytes: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of consecutive row groups, each closed once it holds
    ``split_bytes`` of data (so a range is at least one row group).

    NOTE: sizes are the row groups' uncompressed totals. The compressed sizes are kept per
    column chunk, and pyarrow (25) aborts the whole process, uncatchably, when it builds the
    metadata of a column chunk whose size statistics are damaged; reading such a chunk
    raises a plain ``OSError`` instead. Uncompressed size is also what a worker decodes.
    """
    ranges, start, size = [], 0, 0
    for group in range(metadata.num_row_groups):
        size += metadata.row_group(group).total_byte_size
        if size >= split_bytes:
            ranges.append((start, group + 1))
            start, size = group + 1, 0
    if start < metadata.num_row_groups:
        ranges.append((start, metadata.num_row_groups))
    return ranges


def row_group_units(spec: InputSpec, comp: ComponentSpec,
                    missing: Columns) -> Iterator[Unit | Drop]:
    """The units of the parquet files ``spec.url`` names: ranges ``[start, stop)`` of row
    groups, or one drop per file that cannot be read.

    Args:
        spec: the input (``url``, ``split_bytes``).
        comp: the component, whose name labels the drops.
        missing: the needed columns a schema lacks; a file with any is one
            ``wrong_schema`` drop whose detail names them.
    """
    for found in matching_files(spec, comp):
        if isinstance(found, Drop):
            yield found
            continue
        unit, size = found
        try:
            with open_file(unit) as f:
                parquet = pq.ParquetFile(f)
                absent = missing(parquet.schema_arrow)
                groups = _groups(parquet.metadata, spec.split_bytes)
        except NotRegularFile as err:
            yield Drop(comp.name, "read", "not_regular_file", unit.path, spec.label, size,
                       str(err))
            continue
        except ERRORS as err:
            yield Drop(comp.name, "read", "unreadable", unit.path, spec.label, size,
                       f"not a readable parquet file: {err}")
            continue
        if absent:
            yield Drop(comp.name, "read", "wrong_schema", unit.path, spec.label, size,
                       f"missing columns: {', '.join(absent)}")
            continue
        for start, stop in groups:
            yield Unit(path=unit.path, raw=unit.raw, start=start, stop=stop)


def rows(spec: InputSpec, comp: ComponentSpec, unit: Unit,
         columns: Columns) -> Iterator[tuple[str, dict[str, Any]] | Drop]:
    """The rows of one unit's row groups, read a batch at a time.

    Args:
        spec: the input, whose label names the drops.
        comp: the component, whose name labels the drops.
        unit: a file and its row groups ``[start, stop)``.
        columns: the columns to read, given the file's schema.

    Yields:
        ``(location, row)``: ``url#index`` (the row's index in the whole file) and the row
        as column name -> Python value; or an ``unreadable`` drop for a row group that
        fails to decode (the next one is still read), or for the whole unit when the file
        cannot be opened.
    """
    try:
        with open_file(unit) as f:
            parquet = pq.ParquetFile(f)
            metadata = parquet.metadata
            if unit.stop > metadata.num_row_groups:
                raise ValueError(f"has {metadata.num_row_groups} row groups, fewer than "
                                 "when listed")
            wanted = columns(parquet.schema_arrow)
            first = sum(metadata.row_group(g).num_rows for g in range(unit.start))
            for group in range(unit.start, unit.stop):
                index = first
                try:
                    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group],
                                                      columns=wanted, use_threads=False):
                        for row in batch.to_pylist():
                            yield f"{unit.path}#{index}", row
                            index += 1
                except ERRORS as err:
                    yield Drop(comp.name, "read", "unreadable", f"{unit.path}#{index}",
                               spec.label, 0, f"row group {group} fails to decode: {err}")
                first += metadata.row_group(group).num_rows
    except NotRegularFile as err:
        yield Drop(comp.name, "read", "not_regular_file", unit.location, spec.label, 0,
                   str(err))
    except ERRORS as err:
        yield Drop(comp.name, "read", "unreadable", unit.location, spec.label, 0, str(err))


def _missing(spec: InputSpec) -> Columns:
    return lambda schema: [] if spec.text_field in schema.names else [spec.text_field]


def _columns(spec: InputSpec) -> Columns:
    """The text and label columns, and the kept meta columns (every scalar-typed one when
    ``meta_fields`` is None), of those the schema has."""
    def pick(schema: pa.Schema) -> list[str]:
        labels = (spec.text_field, spec.repo_field, spec.path_field, spec.license_field,
                  spec.lang_field)
        meta = (spec.meta_fields if spec.meta_fields is not None else
                [f.name for f in schema if not pa.types.is_nested(f.type)])
        return [n for n in dict.fromkeys((*labels, *meta)) if n in schema.names]
    return pick


def list_units(spec: InputSpec, comp: ComponentSpec) -> Iterator[Unit | Drop]:
    """Row-group ranges of the parquet files ``spec.url`` names (``row_group_units``); a
    file without ``text_field`` is one ``wrong_schema`` drop."""
    return row_group_units(spec, comp, _missing(spec))


def read_unit(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop]:
    """One record or drop per row of the unit's row groups (see ``row_record``), plus the
    drops of ``rows``."""
    for item in rows(spec, comp, unit, _columns(spec)):
        if isinstance(item, Drop):
            yield item
        else:
            location, row = item
            yield row_record(row, spec=spec, comp=comp, location=location)
