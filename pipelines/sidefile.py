"""Side files users audit beside the shards: JSON lines, deterministic, written in parallel.

Rows (JSON strings) are spread over ``FOLDER/part-NNNNN.jsonl`` by a hash of the row and
sorted inside each file, so the files are byte-identical from run to run whatever order
the rows arrive in, and no worker holds more than one file's rows.
"""

from __future__ import annotations

import hashlib
import math

import apache_beam as beam

from shards.format import write_bytes_atomic

ROWS_PER_FILE = 500_000


def file_count(total: int) -> int:
    """Number of files for ``total`` rows (at least one)."""
    return max(1, math.ceil(total / ROWS_PER_FILE))


def part_name(folder: str, index: int) -> str:
    """A side file's path relative to the output folder."""
    return f"{folder}/part-{index:05d}.jsonl"


def file_of(row: str, files: int) -> int:
    """The file a row goes to: a hash of the row, so placement ignores arrival order."""
    return int.from_bytes(hashlib.sha256(row.encode()).digest()[:8], "big") % files


def write_part(output: str, folder: str, index: int, rows: list[str]) -> str:
    """Write one side file (rows sorted) atomically; returns its relative path."""
    name = part_name(folder, index)
    data = "".join(row + "\n" for row in sorted(rows)).encode()
    write_bytes_atomic(f"{output.rstrip('/')}/{name}", data)
    return name


class WriteSideFile(beam.PTransform):
    """Write JSON rows to ``output/folder/part-NNNNN.jsonl``; returns the files written
    (none when there are no rows: the caller writes an empty part then)."""

    def __init__(self, output: str, folder: str):
        super().__init__()
        self._output, self._folder = output, folder

    def expand(self, rows):
        total = rows | "CountRows" >> beam.combiners.Count.Globally()
        output, folder = self._output, self._folder
        return (rows
                | "PickFile" >> beam.Map(lambda row, n: (file_of(row, file_count(n)), row),
                                         beam.pvalue.AsSingleton(total))
                | "GroupFile" >> beam.GroupByKey()
                | "WriteFile" >> beam.MapTuple(
                    lambda index, group: write_part(output, folder, index, list(group))))
