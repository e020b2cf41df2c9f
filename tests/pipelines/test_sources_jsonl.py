"""JSONL source: lines to records, byte-range splitting, damaged lines and streams."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import tempfile
import zlib

import fsspec
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.accounting import Drop
from pipelines.config import CleanSpec, ComponentSpec, InputSpec
from pipelines.records import Record, record_id
from pipelines.sources import jsonl, read_input
from pipelines.sources.unit import Unit

COMPRESS = {
    "gz": gzip.compress,
    "bz2": lambda data: bz2.compress(data, 1),  # 100 kB blocks: a cut keeps some
    "xz": lzma.compress,
    "zst": lambda data: zstandard.ZstdCompressor().compress(data),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def _spec(url, **kw) -> InputSpec:
    return InputSpec(url=str(url), format="jsonl", **kw)


def _comp(spec: InputSpec, **clean) -> ComponentSpec:
    return ComponentSpec(name="docs", kind="text", inputs=(spec,), weight=1.0,
                         clean=CleanSpec(**clean))


def _read(spec: InputSpec, comp: ComponentSpec | None = None) -> list[Record | Drop]:
    return list(read_input(spec, comp or _comp(spec)))


def _docs(n: int) -> bytes:
    return b"".join(json.dumps({"text": f"document number {i}"}).encode() + b"\n"
                    for i in range(n))


def _reasons(items) -> list[str]:
    return [i.reason for i in items if isinstance(i, Drop)]


def _texts(items) -> list[str]:
    return [i.text for i in items if isinstance(i, Record)]


def test_line_becomes_record_with_mapped_fields(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"text": "hello", "repo": "o/r", "path": "x.py", "license": "MIT",
                                "lang": "python", "stars": 3, "tags": ["a"]}) + "\n")
    spec = _spec(path)
    (record,) = _read(spec)
    assert record == Record(
        id=record_id(f"{path}@0", "hello"), text="hello", kind="text", lang="python",
        component="docs", repo="o/r", path="x.py", license="MIT",
        meta={"stars": 3, "bytes": 5}, source=spec.label)


def test_configured_field_names_are_used(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"body": "hi", "project": "p", "file": "f.c", "spdx": "MIT",
                                "language": "c", "keep": 1, "skip": 2}) + "\n")
    spec = _spec(path, text_field="body", repo_field="project", path_field="file",
                 license_field="spdx", lang_field="language", meta_fields=("keep",))
    (record,) = _read(spec)
    assert (record.text, record.repo, record.path, record.license, record.lang) == (
        "hi", "p", "f.c", "MIT", "c")
    assert record.meta == {"keep": 1, "bytes": 2}


def test_path_defaults_to_the_line_location(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"text": "one"}\n{"text": "two"}\n')
    assert [r.path for r in _read(_spec(path))] == [f"{path}@0", f"{path}@16"]


def test_line_that_is_not_utf8_is_one_bad_json_drop(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"text": "before"}\n{"text": "caf\xe9"}\n{"text": "after"}\n')
    items = _read(_spec(path))
    assert _texts(items) == ["before", "after"]
    (drop,) = [i for i in items if isinstance(i, Drop)]
    assert (drop.reason, drop.id, drop.stage) == ("bad_json", f"{path}@19", "read")
    assert "UTF-8" in drop.detail


def test_lines_that_are_not_json_objects_are_bad_json(tmp_path):
    path = tmp_path / "a.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text("\n".join(["{broken", "[1, 2]", '"text"', deep, "9" * 5000,
                               '{"text": "ok"}']) + "\n")
    items = _read(_spec(path))
    assert _reasons(items) == ["bad_json"] * 5
    assert _texts(items) == ["ok"]


def test_line_without_string_text_is_no_text(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"body": "x"}\n{"text": null}\n{"text": 3}\n')
    assert _reasons(_read(_spec(path))) == ["no_text"] * 3


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'\n  \r\n{"text": "a"}\n\n{"text": "b"}')
    items = _read(_spec(path))
    assert (_texts(items), _reasons(items)) == (["a", "b"], [])


def test_leading_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\n')
    assert _texts(_read(_spec(path))) == ["a"]


def test_line_over_max_bytes_is_too_large_and_the_next_line_is_read(tmp_path):
    path = tmp_path / "a.jsonl"
    long = json.dumps({"text": "x" * 5000}).encode()
    path.write_bytes(b'{"text": "a"}\n' + long + b'\n{"text": "b"}\n')
    items = _read(_spec(path, max_bytes=100))
    assert _texts(items) == ["a", "b"]
    (drop,) = [i for i in items if isinstance(i, Drop)]
    assert (drop.reason, drop.bytes, drop.id) == ("too_large", len(long), f"{path}@14")


def test_line_reader_never_holds_a_line_over_the_cap():
    chunks = iter([b"a" * 10, b"b" * 10 + b"\nc", b""])
    assert list(jsonl.lines(lambda n: next(chunks), max_bytes=5)) == [
        (0, None, 20), (21, b"c", 1)]


def test_lone_surrogate_text_follows_the_non_utf8_rule(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "bad \\ud800 half"}\n')
    spec = _spec(path)
    assert _reasons(_read(spec)) == ["not_utf8"]
    (record,) = _read(spec, _comp(spec, non_utf8="replace"))
    assert record.text == "bad \ufffd\ufffd\ufffd half"
    assert record.meta["edits"] == {"replaced": 1}


def test_big_file_is_split_into_byte_ranges(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(_docs(100))
    size = path.stat().st_size
    spec = _spec(path, split_bytes=1000)
    units = list(jsonl.list_units(spec, _comp(spec)))
    assert [(u.start, u.stop) for u in units] == [
        (s, min(s + 1000, size)) for s in range(0, size, 1000)]


@pytest.mark.parametrize("split_bytes", [1, 2, 3, 7, 16, 17, 100, 1000, 10**9])
def test_every_line_is_read_once_whatever_the_split(tmp_path, split_bytes):
    path = tmp_path / "a.jsonl"
    path.write_bytes(_docs(40) + b'{"text": "no newline at the end"}')
    items = _read(_spec(path, split_bytes=split_bytes))
    assert _texts(items) == [f"document number {i}" for i in range(40)] + [
        "no newline at the end"]
    assert _reasons(items) == []


@pytest.mark.parametrize("ext", sorted(COMPRESS))
def test_compressed_file_is_one_unit_and_read_whole(tmp_path, ext):
    path = tmp_path / f"a.jsonl.{ext}"
    path.write_bytes(COMPRESS[ext](_docs(30)))
    spec = _spec(path, split_bytes=10)
    (unit,) = jsonl.list_units(spec, _comp(spec))
    assert (unit.start, unit.stop) == (0, 0)
    assert _texts(_read(spec)) == [f"document number {i}" for i in range(30)]


def test_glob_reads_every_matching_file_in_order(tmp_path):
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(b'{"text": "b"}\n'))
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "a"}\n')
    (tmp_path / "sub.jsonl").mkdir()
    assert _texts(_read(_spec(tmp_path / "*.jsonl*"))) == ["a", "b"]


def test_truncated_zstd_keeps_documents_before_the_cut(tmp_path):
    data = _docs(20_000)
    compressed = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(compressed[: len(compressed) // 2])
    items = _read(_spec(path))
    texts = _texts(items)
    assert texts and texts == [f"document number {i}" for i in range(len(texts))]
    assert items[-1].reason == "truncated" and items[-1].id == str(path)
    assert set(_reasons(items[:-1])) <= {"bad_json"}  # at most the line the cut split


@pytest.mark.parametrize("ext", ["gz", "bz2", "xz", "zst"])
def test_truncated_stream_is_one_truncated_drop_after_the_lines_before_it(tmp_path, ext):
    compressed = COMPRESS[ext](_docs(20_000))
    path = tmp_path / f"cut.jsonl.{ext}"
    path.write_bytes(compressed[: len(compressed) * 3 // 4])
    items = _read(_spec(path))
    texts = _texts(items)
    assert texts and texts == [f"document number {i}" for i in range(len(texts))]
    assert _reasons(items)[-1] == "truncated"
    assert _reasons(items).count("truncated") == 1


@pytest.mark.parametrize("ext", ["gz", "bz2", "xz", "zst"])
def test_file_that_is_not_the_compression_it_claims_is_unreadable(tmp_path, ext):
    path = tmp_path / f"a.jsonl.{ext}"
    path.write_bytes(_docs(5))
    items = _read(_spec(path))
    assert [(i.reason, i.id) for i in items] == [("unreadable", str(path))]


def test_gzip_corrupt_in_the_middle_keeps_earlier_documents(tmp_path):
    compressor = zlib.compressobj(wbits=31)
    good = compressor.compress(_docs(20_000)) + compressor.flush(zlib.Z_FULL_FLUSH)
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(good + b"\xff" * 64)
    items = _read(_spec(path))
    assert len(_texts(items)) > 0
    assert _reasons(items)[-1] == "unreadable"


def test_fifo_matching_the_glob_is_dropped_at_listing(tmp_path):
    os.mkfifo(tmp_path / "pipe.jsonl")
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "a"}\n')
    spec = _spec(tmp_path / "*.jsonl")
    found = list(jsonl.list_units(spec, _comp(spec)))
    assert [(d.reason, d.id) for d in found if isinstance(d, Drop)] == [
        ("not_regular_file", str(tmp_path / "pipe.jsonl"))]
    assert _texts(_read(spec)) == ["a"]


def test_fifo_is_not_opened_at_read_time(tmp_path):
    os.mkfifo(tmp_path / "pipe.jsonl")
    spec = _spec(tmp_path / "pipe.jsonl")
    unit = Unit(path=str(tmp_path / "pipe.jsonl"))
    assert _reasons(jsonl.read_unit(spec, _comp(spec), unit)) == ["not_regular_file"]


def test_missing_file_is_one_unreadable_drop(tmp_path):
    assert _reasons(_read(_spec(tmp_path / "none.jsonl"))) == ["unreadable"]


def test_file_name_that_is_not_utf8_is_read(tmp_path):
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.jsonl"), "wb") as f:
        f.write(b'{"text": "a"}\n')
    (record,) = _read(_spec(tmp_path / "*.jsonl"))
    assert record.path == f"{tmp_path}/caf\\xe9.jsonl@0"


@pytest.mark.parametrize("scheme", ["file://", "memory://"])
def test_fsspec_urls_are_read(tmp_path, scheme):
    root = str(tmp_path) if scheme == "file://" else "/jsonl-urls"
    fs = fsspec.filesystem(scheme.removesuffix("://"))
    fs.pipe(f"{root}/a.jsonl", _docs(50))
    fs.pipe(f"{root}/b.jsonl.zst", zstandard.ZstdCompressor().compress(_docs(2)))
    items = _read(_spec(f"{scheme}{root}/*.jsonl*", split_bytes=100))
    assert _texts(items) == [f"document number {i}" for i in range(50)] + [
        "document number 0", "document number 1"]
    # Local files are named by their path, remote ones by their URL.
    assert items[0].path == ("memory:///jsonl-urls" if scheme == "memory://" else root) + (
        "/a.jsonl@0")


_LINE = st.one_of(
    st.builds(lambda t: json.dumps({"text": t}).encode(), st.text()),
    st.builds(lambda t: json.dumps({"text": t}, ensure_ascii=False).encode(), st.text()),
    st.text().map(lambda t: t.encode("utf-8")),
    st.binary(),
).map(lambda line: line.replace(b"\n", b" "))


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_LINE, max_size=12), end=st.sampled_from([b"", b"\n"]),
       split_bytes=st.integers(1, 400), max_bytes=st.integers(1, 200))
def test_every_non_blank_line_ends_as_one_record_or_one_drop(lines, end, split_bytes,
                                                            max_bytes):
    data = b"\n".join(lines) + end
    expected, offset = [], 0
    for line in lines:
        if line.strip() or len(line) > max_bytes:
            expected.append(offset)
        offset += len(line) + 1
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "a.jsonl")
        with open(path, "wb") as f:
            f.write(data)
        items = _read(_spec(path, split_bytes=split_bytes, max_bytes=max_bytes))
    assert len(items) == len(expected)
    for item, offset in zip(items, expected):
        location = f"{path}@{offset}"
        assert item.id == (record_id(location, item.text) if isinstance(item, Record)
                           else location)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), ext=st.sampled_from(["gz", "zst", "bz2", "xz"]),
       head=st.booleans())
def test_random_bytes_as_a_compressed_file_never_raise(data, ext, head):
    if head:  # a valid start, so the decoder gets past the magic number
        data = COMPRESS[ext](b'{"text": "a"}\n')[:len(data) % 40] + data
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"a.jsonl.{ext}")
        with open(path, "wb") as f:
            f.write(data)
        items = _read(_spec(path))
    assert all(isinstance(i, (Record, Drop)) for i in items)
