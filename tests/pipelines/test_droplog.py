"""The drop log: one JSON row per drop, deterministic files, odd names survive."""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.accounting import Drop
from pipelines.droplog import WriteDropLog, drop_row
from pipelines.sidefile import file_count, file_of, write_part


def test_row_has_every_field_and_escapes_odd_text():
    drop = Drop("c", "read", "binary", "repo:bad\udcff.py", "src", 12, "a\nb")
    row = drop_row(drop)
    assert "\n" not in row and row.isascii()
    assert json.loads(row) == {"component": "c", "stage": "read", "reason": "binary",
                               "id": "repo:bad\udcff.py", "source": "src", "bytes": 12,
                               "detail": "a\nb", "path": "repo:bad\udcff.py", "repo": ""}


def test_file_count_and_placement_are_deterministic():
    assert file_count(0) == 1 and file_count(500_000) == 1 and file_count(500_001) == 2
    rows = [drop_row(Drop("c", "clean", "vendored", f"id{i}")) for i in range(100)]
    assert [file_of(r, 4) for r in rows] == [file_of(r, 4) for r in rows]
    assert {file_of(r, 4) for r in rows} == {0, 1, 2, 3}


def test_written_file_is_sorted_whatever_the_arrival_order(tmp_path):
    rows = [drop_row(Drop("c", "clean", "vendored", f"id{i}")) for i in range(20)]
    write_part(str(tmp_path), "drops", 0, rows)
    first = (tmp_path / "drops" / "part-00000.jsonl").read_bytes()
    write_part(str(tmp_path), "drops", 0, rows[::-1])
    assert (tmp_path / "drops" / "part-00000.jsonl").read_bytes() == first
    assert first.decode().splitlines() == sorted(rows)


def test_write_drop_log_writes_every_drop_once(tmp_path):
    drops = [Drop("c", "read", "binary", f"f{i}", "src", i) for i in range(50)]
    with TestPipeline() as p:
        files = p | beam.Create(drops) | WriteDropLog(str(tmp_path))
        assert_that(files, equal_to(["drops/part-00000.jsonl"]))
    lines = (tmp_path / "drops" / "part-00000.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(d.id for d in drops)
