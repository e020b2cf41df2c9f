"""The shard file: layout round trips, atomic writes, and refusal of bad files."""

from __future__ import annotations

import fsspec
import numpy as np
import pytest

from shards.format import Shard, ShardError, dtype_for_vocab, encode_shard, write_shard

DOCS = [(np.array([5, 6, 7]), {"id": "a"}), (np.array([], dtype=np.int64), {"id": "b"}),
        (np.arange(300, 310), {"id": "c", "lang": "python"})]


def test_dtype_is_the_smallest_that_fits_the_vocab():
    assert dtype_for_vocab(65536) == np.uint16
    assert dtype_for_vocab(65537) == np.uint32
    with pytest.raises(ValueError):
        dtype_for_vocab(0)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", ["uint16", "uint32"])
def test_documents_round_trip(tmp_path, dtype, compress):
    url = str(tmp_path / ("s.shard.zst" if compress else "s.shard"))
    info = write_shard(url, DOCS, dtype, compress=compress)
    assert (info.docs, info.tokens) == (3, 13)
    with Shard(url) as shard:
        assert len(shard) == 3 and shard.dtype == np.dtype(dtype)
        for i, (tokens, meta) in enumerate(DOCS):
            assert shard.tokens(i).tolist() == tokens.tolist()
            assert shard.meta(i) == meta
        assert shard.all_tokens().tolist() == [5, 6, 7, *range(300, 310)]
        assert shard.offsets.tolist() == [0, 3, 3, 13]


def test_remote_filesystems_are_read_by_range():
    url = "memory://shards/remote.shard"
    write_shard(url, DOCS, "uint16")
    with Shard(url) as shard:
        assert shard.tokens(2).tolist() == list(range(300, 310))
        assert shard.meta(0) == {"id": "a"}


def test_same_documents_give_identical_bytes():
    assert encode_shard(DOCS, "uint16")[0] == encode_shard(list(DOCS), "uint16")[0]


def test_ids_that_do_not_fit_the_dtype_are_refused():
    with pytest.raises(ValueError, match="out of range"):
        encode_shard([(np.array([70000]), {})], "uint16")


def test_write_leaves_no_temporary_files(tmp_path):
    write_shard(str(tmp_path / "x.shard"), DOCS, "uint16")
    assert [p.name for p in tmp_path.iterdir()] == ["x.shard"]


def test_index_out_of_range_raises_index_error(tmp_path):
    write_shard(str(tmp_path / "x.shard"), DOCS, "uint16")
    with Shard(str(tmp_path / "x.shard")) as shard, pytest.raises(IndexError):
        shard.tokens(3)


@pytest.mark.parametrize("cut", [10, 100])
def test_truncated_or_foreign_files_are_refused(tmp_path, cut):
    data, _, _ = encode_shard(DOCS, "uint16")
    path = tmp_path / "bad.shard"
    path.write_bytes(data[:-cut])
    with pytest.raises(ShardError):
        Shard(str(path))
    path.write_bytes(b"PK\x03\x04" + data[4:])
    with pytest.raises(ShardError, match="not a codemix shard"):
        Shard(str(path))


def test_compressed_name_must_say_so(tmp_path):
    with pytest.raises(ValueError, match=".zst"):
        write_shard(str(tmp_path / "x.shard"), DOCS, "uint16", compress=True)
    assert not fsspec.filesystem("file").exists(str(tmp_path / "x.shard"))


def test_file_urls_and_fsspec_caching_read_the_same_documents(tmp_path):
    local = tmp_path / "x.shard"
    write_shard(str(local), DOCS, "uint16")
    write_shard("memory://cached/x.shard.zst", DOCS, "uint16", compress=True)
    for url in (f"file://{local}", "simplecache::memory://cached/x.shard.zst",
                "filecache::memory://cached/x.shard.zst"):
        with Shard(url) as shard:
            assert [(t.tolist(), m) for t, m in shard] == [(t.tolist(), m) for t, m in DOCS], url
