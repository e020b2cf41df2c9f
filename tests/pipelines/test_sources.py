"""Input formats: listing is deterministic and capped, reading never raises."""

from __future__ import annotations

import gzip
import json

import zstandard

from pipelines.accounting import Drop
from pipelines.config import InputSpec
from pipelines.records import Record
from pipelines.sources import list_units, read_unit
from pipelines.sources.folder import to_record
from pipelines.sources.jsonl import parse_line
from pipelines.sources.package_metadata import to_record as metadata_record


def _tree(tmp_path):
    for rel in ("a.py", "pkg/b.py", "pkg/c.txt", "pkg/tests/d.py", "e.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"# {rel}\n")


def test_folder_listing_applies_include_and_exclude(tmp_path):
    _tree(tmp_path)
    spec = InputSpec(url=str(tmp_path), format="folder", include=("**/*.py",),
                     exclude=("**/tests/**",))
    assert list_units(spec) == ["a.py", "e.py", "pkg/b.py"]


def test_max_files_picks_the_same_spread_sample_every_time(tmp_path):
    _tree(tmp_path)
    spec = InputSpec(url=str(tmp_path), format="folder", include=("**/*.py",), max_files=2)
    first = list_units(spec)
    assert len(first) == 2 and first == list_units(spec) and first == sorted(first)


def test_folder_record_has_repo_path_and_content_id(tmp_path):
    _tree(tmp_path)
    spec = InputSpec(url=str(tmp_path), format="folder", name="myrepo")
    (record,) = read_unit(spec, "comp", "code", "pkg/b.py")
    assert (record.repo, record.path, record.text, record.component) == (
        "myrepo", "pkg/b.py", "# pkg/b.py\n", "comp")
    (again,) = read_unit(spec, "comp", "code", "pkg/b.py")
    assert again.id == record.id


def test_binary_latin1_and_missing_files_are_drops(tmp_path):
    assert to_record(b"ab\0cd", repo="r", path="p", component="c", kind="code").reason == "binary"
    assert to_record("caf\xe9".encode("latin-1"), repo="r", path="p", component="c",
                     kind="code").reason == "not_utf8"
    assert to_record(b"\xef\xbb\xbfx = 1", repo="r", path="p", component="c",
                     kind="code").text == "x = 1"
    spec = InputSpec(url=str(tmp_path), format="folder")
    (drop,) = read_unit(spec, "c", "code", "gone.py")
    assert drop == Drop("c", "read", "unreadable", f"{tmp_path.name}:gone.py")


def test_jsonl_lines_become_records_or_named_drops():
    kw = dict(text_field="text", source="f#1", component="t", kind="text")
    record = parse_line(json.dumps({"text": "hello", "license": "MIT", "stars": 3}), **kw)
    assert isinstance(record, Record)
    assert (record.text, record.license, record.meta) == ("hello", "MIT", {"stars": 3})
    assert parse_line("{broken", **kw).reason == "bad_json"
    assert parse_line("[1, 2]", **kw).reason == "bad_json"
    assert parse_line(json.dumps({"body": "x"}), **kw).reason == "no_text"


def test_jsonl_reads_gzip_and_zstd_through_a_glob(tmp_path):
    lines = "\n".join(json.dumps({"text": f"doc {i}"}) for i in range(3)) + "\n"
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as f:
        f.write(lines)
    (tmp_path / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
    spec = InputSpec(url=str(tmp_path / "*.jsonl.*"), format="jsonl")
    units = list_units(spec)
    assert len(units) == 2
    texts = [r.text for u in units for r in read_unit(spec, "t", "text", u)]
    assert texts == ["doc 0", "doc 1", "doc 2"] * 2


def test_corrupt_compressed_file_is_one_unreadable_drop(tmp_path):
    (tmp_path / "bad.jsonl.gz").write_bytes(b"not gzip at all")
    spec = InputSpec(url=str(tmp_path / "bad.jsonl.gz"), format="jsonl")
    (unit,) = list_units(spec)
    assert [d.reason for d in read_unit(spec, "t", "text", unit)] == ["unreadable"]


def test_package_metadata_description_is_the_document():
    meta = (b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nLicense: MIT\n\n"
            b"A real description\nof the package.\n")
    record = metadata_record(meta, unit="demo-1.0.dist-info/METADATA", component="t",
                             kind="text")
    assert (record.text, record.repo, record.path, record.license) == (
        "A real description\nof the package.", "demo", "demo==1.0", "MIT")
    empty = metadata_record(b"Metadata-Version: 2.1\nName: x\n\n", unit="u", component="t",
                            kind="text")
    assert empty.reason == "no_text"
