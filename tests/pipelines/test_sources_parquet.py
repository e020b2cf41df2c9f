"""Parquet text dumps and The Stack v1/v2: rows to records, row-group units, bad files."""

from __future__ import annotations

import datetime
import io
import os
import tempfile

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record, record_id
from pipelines.sources import parquet, read_input, stack
from pipelines.sources.unit import Unit

UTC = datetime.timezone.utc


def _spec(url, fmt="parquet", **kw) -> InputSpec:
    return InputSpec(url=str(url), format=fmt, **kw)


def _comp(spec: InputSpec) -> ComponentSpec:
    return ComponentSpec(name="docs", kind="code" if spec.format == "stack" else "text",
                         inputs=(spec,), weight=1.0)


def _read(spec: InputSpec) -> list[Record | Drop]:
    return list(read_input(spec, _comp(spec)))


def _write(path, columns: dict, row_group_size: int = 1000, **kw) -> str:
    pq.write_table(pa.table(columns), str(path), row_group_size=row_group_size, **kw)
    return str(path)


def _texts(items) -> list[str]:
    return [i.text for i in items if isinstance(i, Record)]


def _reasons(items) -> list[str]:
    return [i.reason for i in items if isinstance(i, Drop)]


def _docs(n: int) -> list[str]:
    return [f"document number {i} " * 10 for i in range(n)]


# --- parquet text dumps ---------------------------------------------------------------


def test_row_becomes_record_with_mapped_fields(tmp_path):
    when = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    path = _write(tmp_path / "a.parquet", {
        "text": ["hello"], "repo": ["o/r"], "license": [["MIT", "BSD-3-Clause"]],
        "lang": ["en"], "stars": [3], "when": pa.array([when], pa.timestamp("s", "UTC")),
        "tags": [["x"]]})
    spec = _spec(path)
    (record,) = _read(spec)
    location = f"{path}#0"
    assert record == Record(
        id=record_id(location, "hello"), text="hello", kind="text", lang="en",
        component="docs", repo="o/r", path=location, license="MIT AND BSD-3-Clause",
        meta={"stars": 3, "when": "2020-01-02T03:04:05+00:00", "bytes": 5},
        source=spec.label)


def test_meta_fields_limits_meta(tmp_path):
    path = _write(tmp_path / "a.parquet", {"text": ["a"], "keep": [1], "skip": [2]})
    (record,) = _read(_spec(path, meta_fields=("keep",)))
    assert record.meta == {"keep": 1, "bytes": 1}


def test_binary_text_is_decoded_by_the_clean_rules(tmp_path):
    path = _write(tmp_path / "a.parquet", {
        "text": pa.array([b"caf\xc3\xa9", b"caf\xe9", b"\x00\x01bin"], pa.large_binary())})
    items = _read(_spec(path))
    assert _texts(items) == ["café"]
    assert [(d.reason, d.id) for d in items if isinstance(d, Drop)] == [
        ("not_utf8", f"{path}#1"), ("binary", f"{path}#2")]


def test_null_text_is_no_text(tmp_path):
    path = _write(tmp_path / "a.parquet", {"text": pa.array(["a", None], pa.string())})
    assert _reasons(_read(_spec(path))) == ["no_text"]


def test_text_over_max_bytes_is_too_large(tmp_path):
    path = _write(tmp_path / "a.parquet", {"text": ["short", "x" * 500]})
    items = _read(_spec(path, max_bytes=100))
    assert _texts(items) == ["short"]
    assert [(d.reason, d.bytes) for d in items if isinstance(d, Drop)] == [("too_large", 500)]


def test_file_without_the_text_column_is_one_wrong_schema_drop(tmp_path):
    path = _write(tmp_path / "a.parquet", {"body": ["a", "b"]})
    (drop,) = _read(_spec(path))
    assert (drop.reason, drop.id, drop.detail) == ("wrong_schema", path, "missing columns: text")


@pytest.mark.parametrize("damage", ["not_parquet", "cut_footer", "empty"])
def test_file_that_is_not_readable_parquet_is_one_unreadable_drop(tmp_path, damage):
    good = io.BytesIO()
    pq.write_table(pa.table({"text": _docs(10)}), good)
    data = {"not_parquet": b"just some text\n" * 10, "cut_footer": good.getvalue()[:-20],
            "empty": b""}[damage]
    (tmp_path / "a.parquet").write_bytes(data)
    (drop,) = _read(_spec(tmp_path / "a.parquet"))
    assert (drop.reason, drop.id) == ("unreadable", str(tmp_path / "a.parquet"))


def test_row_groups_are_grouped_into_units_of_about_split_bytes(tmp_path):
    path = _write(tmp_path / "a.parquet", {"text": _docs(40)}, row_group_size=4)
    metadata = pq.ParquetFile(path).metadata
    group_bytes = metadata.row_group(0).total_byte_size
    spec = _spec(path, split_bytes=group_bytes * 3)
    units = list(parquet.list_units(spec, _comp(spec)))
    assert [(u.start, u.stop) for u in units] == [(0, 3), (3, 6), (6, 9), (9, 10)]


@pytest.mark.parametrize("split_bytes", [1, 300, 1000, 10**9])
def test_every_row_is_read_once_whatever_the_split(tmp_path, split_bytes):
    path = _write(tmp_path / "a.parquet", {"text": _docs(23)}, row_group_size=5)
    items = _read(_spec(path, split_bytes=split_bytes))
    assert _texts(items) == _docs(23)
    assert [r.path for r in items] == [f"{path}#{i}" for i in range(23)]


def test_corrupt_row_group_is_one_unreadable_drop_and_the_others_are_read(tmp_path):
    path = _write(tmp_path / "a.parquet", {"text": _docs(9)}, row_group_size=3,
                  compression="none", use_dictionary=False)
    column = pq.ParquetFile(path).metadata.row_group(1).column(0)
    data = bytearray((tmp_path / "a.parquet").read_bytes())
    start = column.data_page_offset
    data[start:start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    (tmp_path / "a.parquet").write_bytes(bytes(data))
    items = _read(_spec(path))
    assert _texts(items) == _docs(3) + _docs(9)[6:]
    (drop,) = [i for i in items if isinstance(i, Drop)]
    assert (drop.reason, drop.id) == ("unreadable", f"{path}#3")
    assert "row group 1" in drop.detail


def test_fifo_matching_the_glob_is_dropped_at_listing(tmp_path):
    os.mkfifo(tmp_path / "pipe.parquet")
    _write(tmp_path / "a.parquet", {"text": ["a"]})
    items = _read(_spec(tmp_path / "*.parquet"))
    assert (_texts(items), _reasons(items)) == (["a"], ["not_regular_file"])


def test_memory_url_is_read(tmp_path):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": _docs(6)}), buffer, row_group_size=2)
    fsspec.filesystem("memory").pipe("/parquet-url/a.parquet", buffer.getvalue())
    items = _read(_spec("memory://parquet-url/*.parquet", split_bytes=1))
    assert _texts(items) == _docs(6)
    assert items[0].path == "memory:///parquet-url/a.parquet#0"


def test_unit_past_the_files_row_groups_is_unreadable(tmp_path):
    path = _write(tmp_path / "a.parquet", {"text": ["a"]})
    spec = _spec(path)
    items = list(parquet.read_unit(spec, _comp(spec), Unit(path=path, start=0, stop=5)))
    assert _reasons(items) == ["unreadable"]


def _parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": _docs(6), "n": list(range(6))}), buffer,
                   row_group_size=2)
    return buffer.getvalue()


_GOOD = _parquet_bytes()


@settings(max_examples=150, deadline=None)
@given(data=st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=400).map(lambda b: b"PAR1" + b + b"PAR1"),
    st.tuples(st.integers(0, len(_GOOD) - 1), st.binary(min_size=1, max_size=8)).map(
        lambda cut: _GOOD[:cut[0]] + cut[1] + _GOOD[cut[0] + len(cut[1]):]),
))
def test_random_or_damaged_bytes_as_parquet_never_raise(data):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "a.parquet")
        with open(path, "wb") as f:
            f.write(data)
        items = _read(_spec(path)) + _read(_spec(path, "stack"))
    assert all(isinstance(i, (Record, Drop)) for i in items)


# --- The Stack ------------------------------------------------------------------------


def _stack_v1(rows: int) -> dict:
    """Columns and types of bigcode/the-stack (v1)."""
    return {
        "hexsha": [f"{i:040x}" for i in range(rows)],
        "size": pa.array([100] * rows, pa.int64()),
        "ext": ["py"] * rows,
        "lang": ["Python"] * rows,
        "max_stars_repo_path": [f"src/m{i}.py" for i in range(rows)],
        "max_stars_repo_name": ["octo/repo"] * rows,
        "max_stars_repo_head_hexsha": ["ab" * 20] * rows,
        "max_stars_repo_licenses": pa.array([["MIT", "Apache-2.0"]] * rows,
                                            pa.list_(pa.string())),
        "max_stars_count": pa.array([7.0] + [None] * (rows - 1), pa.float64()),
        "max_stars_repo_stars_event_min_datetime": pa.array(
            ["2015-01-02T03:04:05.000Z"] + [None] * (rows - 1), pa.string()),
        "content": pa.array([f"print({i})\n" for i in range(rows)], pa.large_string()),
        "avg_line_length": [10.0] * rows,
        "alphanum_fraction": [0.5] * rows,
    }


def _stack_v2(rows: int) -> dict:
    """Columns and types of bigcode/the-stack-v2 (with the content fetched)."""
    when = datetime.datetime(2022, 5, 6, 7, 8, 9)
    return {
        "blob_id": [f"{i:040x}" for i in range(rows)],
        "directory_id": ["d"] * rows,
        "path": [f"/lib/f{i}.js" for i in range(rows)],
        "content_id": ["c"] * rows,
        "detected_licenses": pa.array([[]] * rows, pa.list_(pa.string())),
        "license_type": ["permissive"] * rows,
        "repo_name": ["someone/thing"] * rows,
        "snapshot_id": ["s"] * rows,
        "revision_id": ["r"] * rows,
        "branch_name": ["refs/heads/main"] * rows,
        "visit_date": pa.array([when] * rows, pa.timestamp("ns")),
        "revision_date": pa.array([when.replace(tzinfo=UTC)] * rows, pa.timestamp("us", "UTC")),
        "committer_date": pa.array([when] * rows, pa.timestamp("us")),
        "github_id": pa.array([1] * rows, pa.int64()),
        "star_events_count": pa.array([42] * rows, pa.int64()),
        "fork_events_count": pa.array([1] * rows, pa.int64()),
        "gha_license_id": pa.array(["BSD-2-Clause"] + [None] * (rows - 1), pa.string()),
        "gha_language": ["JavaScript"] * rows,
        "src_encoding": ["UTF-8"] * rows,
        "language": ["JavaScript"] * rows,
        "is_vendor": [False] * rows,
        "is_generated": [False] * rows,
        "length_bytes": pa.array([10] * rows, pa.int64()),
        "extension": ["js"] * rows,
        "content": pa.array([f"f({i});\n".encode() for i in range(rows)], pa.large_binary()),
    }


def test_stack_v1_row_becomes_a_repository_file(tmp_path):
    path = _write(tmp_path / "v1.parquet", _stack_v1(2))
    spec = _spec(path, "stack")
    first, second = _read(spec)
    assert first == Record(
        id=record_id("octo/repo:src/m0.py", "print(0)\n"), text="print(0)\n", kind="code",
        lang="python", component="docs", repo="octo/repo", path="src/m0.py",
        license="MIT AND Apache-2.0", source=spec.label,
        meta={"stars": 7, "date": "2015-01-02T03:04:05Z", "blob": "0" * 40, "bytes": 9})
    assert second.meta == {"blob": f"{1:040x}", "bytes": 9}


def test_stack_v2_row_becomes_a_repository_file(tmp_path):
    path = _write(tmp_path / "v2.parquet", _stack_v2(2))
    spec = _spec(path, "stack")
    first, second = _read(spec)
    assert first == Record(
        id=record_id("someone/thing:/lib/f0.js", "f(0);\n"), text="f(0);\n", kind="code",
        lang="javascript", component="docs", repo="someone/thing", path="/lib/f0.js",
        license="BSD-2-Clause", source=spec.label,
        meta={"stars": 42, "date": "2022-05-06T07:08:09Z", "blob": "0" * 40, "bytes": 6})
    assert second.license == "permissive"  # no detected list, no GitHub id: the type


def test_stack_v2_detected_licenses_come_first_and_no_license_is_empty(tmp_path):
    columns = _stack_v2(2)
    columns["detected_licenses"] = pa.array([["Apache-2.0"], []], pa.list_(pa.string()))
    columns["gha_license_id"] = pa.array([None, None], pa.string())
    columns["license_type"] = ["permissive", "no_license"]
    records = _read(_spec(_write(tmp_path / "v2.parquet", columns), "stack"))
    assert [r.license for r in records] == ["Apache-2.0", ""]


def test_stack_file_without_required_columns_is_one_wrong_schema_drop(tmp_path):
    columns = _stack_v2(1)
    del columns["content"], columns["repo_name"]
    path = _write(tmp_path / "v2.parquet", columns)
    (drop,) = _read(_spec(path, "stack"))
    assert (drop.reason, drop.id) == ("wrong_schema", path)
    assert drop.detail == (
        "missing columns: content, repository_name|repo_name|max_stars_repo_name")


def test_stack_content_that_is_null_or_not_utf8_is_dropped(tmp_path):
    columns = _stack_v2(3)
    columns["content"] = pa.array([None, b"caf\xe9", b"ok\n"], pa.binary())
    path = _write(tmp_path / "v2.parquet", columns)
    items = _read(_spec(path, "stack"))
    assert [(d.reason, d.id) for d in items if isinstance(d, Drop)] == [
        ("no_text", f"{path}#0"), ("not_utf8", f"{path}#1")]
    assert _texts(items) == ["ok\n"]


def test_stack_files_split_by_row_groups_read_every_row_once(tmp_path):
    path = _write(tmp_path / "v1.parquet", _stack_v1(25), row_group_size=4)
    spec = _spec(path, "stack", split_bytes=1)
    assert len(list(stack.list_units(spec, _comp(spec)))) == 7
    assert _texts(_read(spec)) == [f"print({i})\n" for i in range(25)]


@pytest.mark.parametrize("value, expected", [
    ("2015-01-02T03:04:05.000Z", "2015-01-02T03:04:05Z"),
    ("2015-01-02T05:04:05+02:00", "2015-01-02T03:04:05Z"),
    (datetime.datetime(2015, 1, 2, 3, 4, 5), "2015-01-02T03:04:05Z"),
    (datetime.date(2015, 1, 2), "2015-01-02"),
    ("last tuesday", "last tuesday"),
    (None, ""),
])
def test_stack_dates_are_iso_8601_in_utc(value, expected):
    assert stack.iso_date(value) == expected
