"""The drop log: one JSON line per dropped document or unreadable unit, beside the shards.

stats.json says how many documents left the build and why; the drop log says which: its
rows (``id`` or location, ``component``, ``source``, ``stage``, ``reason``, ``bytes``,
``detail``) let a user find every file, line or archive member that did not make it.
Rows are spread over ``drops/part-NNNNN.jsonl`` files by a hash of the row and sorted
inside each file, so the log is byte-identical from run to run and no worker holds more
than one file's rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import apache_beam as beam

from pipelines.accounting import Drop
from shards.format import write_bytes_atomic

DROP_LOG_DIR = "drops"
ROWS_PER_FILE = 500_000


def drop_row(drop: Drop) -> str:
    """One drop as a JSON line (ASCII-escaped, so odd names can never break the file)."""
    return json.dumps(dataclasses.asdict(drop), sort_keys=True)


def log_files(total: int) -> int:
    """Number of drop-log files for ``total`` rows (at least one)."""
    return max(1, math.ceil(total / ROWS_PER_FILE))


def log_name(index: int) -> str:
    """A drop-log file's path relative to the output folder."""
    return f"{DROP_LOG_DIR}/part-{index:05d}.jsonl"


def file_of(row: str, files: int) -> int:
    """The file a row goes to: a hash of the row, so placement ignores arrival order."""
    return int.from_bytes(hashlib.sha256(row.encode()).digest()[:8], "big") % files


def write_log_file(output: str, index: int, rows: list[str]) -> str:
    """Write one drop-log file (rows sorted) atomically; returns its relative path."""
    name = log_name(index)
    data = "".join(row + "\n" for row in sorted(rows)).encode()
    write_bytes_atomic(f"{output.rstrip('/')}/{name}", data)
    return name


class WriteDropLog(beam.PTransform):
    """Write every drop to the drop log; returns the PCollection of files written."""

    def __init__(self, output: str):
        super().__init__()
        self._output = output

    def expand(self, drops):
        rows = drops | "Row" >> beam.Map(drop_row)
        total = rows | "CountRows" >> beam.combiners.Count.Globally()
        output = self._output
        return (rows
                | "PickFile" >> beam.Map(lambda row, n: (file_of(row, log_files(n)), row),
                                         beam.pvalue.AsSingleton(total))
                | "GroupFile" >> beam.GroupByKey()
                | "WriteFile" >> beam.MapTuple(
                    lambda index, group: write_log_file(output, index, list(group))))
