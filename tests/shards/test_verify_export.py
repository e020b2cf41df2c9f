"""``codemix shards verify`` finds every fault; ``export --format megatron`` round-trips."""

from __future__ import annotations

import json
import pathlib
import shutil
import struct

import numpy as np
import pytest

from codemix.cli import main
from shards.format import Shard
from shards.manifest import load_manifest, resolve
from shards.megatron import MAGIC, read_indexed
from shards.verify import verify_corpus


@pytest.fixture()
def corpus(built_corpus, tmp_path):
    """A private copy of the integration build, free to damage."""
    out = tmp_path / "out"
    shutil.copytree(built_corpus, out)
    return out


def test_a_sound_corpus_has_no_faults(corpus, capsys):
    _, faults = verify_corpus(str(corpus / "manifest.json"))
    assert faults == []
    assert main(["shards", "verify", str(corpus)]) == 0
    assert "sound" in capsys.readouterr().out


def test_every_fault_is_named_and_the_exit_status_is_one(corpus, capsys):
    manifest = load_manifest(str(corpus / "manifest.json"), verify=False)
    first = manifest.components[0].shards[0].path
    data = bytearray((corpus / first).read_bytes())
    data[100] ^= 0xFF  # inside the tokens: the hash changes (maybe an id too)
    (corpus / first).write_bytes(bytes(data))
    (corpus / manifest.components[1].shards[0].path).unlink()
    raw = json.loads((corpus / "manifest.json").read_text())
    raw["tokenizer"]["vocab_size"] = 10  # every real id is now out of range
    (corpus / "manifest.json").write_text(json.dumps(raw))
    _, faults = verify_corpus(str(corpus / "manifest.json"))
    assert any(f.startswith(f"shard {first}: sha256") for f in faults)
    assert any("missing" in f for f in faults)
    assert any(">= vocabulary size 10" in f for f in faults)
    assert main(["shards", "verify", str(corpus)]) == 1
    out = capsys.readouterr().out
    assert out.count("FAULT ") == len(faults)


def test_shards_the_manifest_does_not_name_are_faults(corpus, capsys):
    named = load_manifest(str(corpus / "manifest.json"), verify=False).components[0].shards[0]
    (corpus / "gone-component").mkdir()
    shutil.copy(corpus / named.path, corpus / "gone-component" / "00000.shard.zst")
    shutil.copy(corpus / named.path, corpus / named.path.replace("00000", "00099"))
    shutil.copytree(corpus / pathlib.Path(named.path).parent, corpus / ".staging" / "x")
    _, faults = verify_corpus(str(corpus / "manifest.json"))
    extra = sorted([named.path.replace("00000", "00099"), "gone-component/00000.shard.zst"])
    assert faults == [f"shard {rel}: not named by the manifest (left by another build)"
                      for rel in extra]
    assert main(["shards", "verify", str(corpus)]) == 1


INDEX_HEADER = np.dtype([("magic", "V9"), ("version", "<u8"), ("dtype", "u1"),
                         ("sequences", "<u8"), ("documents", "<u8")])
"""Megatron-LM's ``.idx`` header (``indexed_dataset.py``, ``_IndexWriter``), read whole."""


def megatron_documents(prefix: str) -> list[np.ndarray]:
    """The documents of a Megatron indexed dataset, read by the published layout.

    Written from Megatron-LM's ``_IndexReader`` / ``_MMapBinReader`` description, not from
    ``shards.megatron``: header, int32 sizes, int64 byte pointers, int64 document indices;
    a document is the tokens of its sequences ``document_indices[i]..[i + 1]``.
    """
    header = np.fromfile(prefix + ".idx", dtype=INDEX_HEADER, count=1)[0]
    assert bytes(header["magic"]) == b"MMIDIDX\x00\x00" and header["version"] == 1
    dtype = {4: np.dtype("<i4"), 8: np.dtype("<u2")}[int(header["dtype"])]
    n, d = int(header["sequences"]), int(header["documents"])
    offset = INDEX_HEADER.itemsize
    sizes = np.fromfile(prefix + ".idx", dtype="<i4", count=n, offset=offset)
    pointers = np.fromfile(prefix + ".idx", dtype="<i8", count=n, offset=offset + 4 * n)
    doc_index = np.fromfile(prefix + ".idx", dtype="<i8", count=d, offset=offset + 12 * n)
    assert doc_index[0] == 0 and doc_index[-1] == n
    data = open(prefix + ".bin", "rb").read()
    assert sum(int(s) for s in sizes) * dtype.itemsize == len(data)
    sequences = [np.frombuffer(data, dtype=dtype, count=int(s), offset=int(p))
                 for s, p in zip(sizes, pointers)]
    return [np.concatenate(sequences[a:b]) for a, b in zip(doc_index[:-1], doc_index[1:])]


def shard_documents(corpus, comp) -> list[np.ndarray]:
    expected = []
    for entry in comp.shards:
        with Shard(resolve(str(corpus / "manifest.json"), entry.path)) as shard:
            expected += [np.asarray(t) for t, _ in shard]
    return expected


def test_megatron_export_ends_every_document_with_endoftext(corpus, tmp_path):
    target = tmp_path / "megatron"
    assert main(["shards", "export", str(corpus), "--format", "megatron",
                 "--out", str(target)]) == 0
    manifest = load_manifest(str(corpus / "manifest.json"), verify=False)
    eot = manifest.tokenizer.special_tokens["<|endoftext|>"]
    for comp in manifest.components:
        prefix = str(target / comp.name)
        header = open(prefix + ".idx", "rb").read(34)
        assert header[:9] == MAGIC and struct.unpack_from("<QBQQ", header, 9) == (
            1, 8, comp.docs, comp.docs + 1)  # version 1, uint16, N, N + 1
        got = megatron_documents(prefix)
        expected = shard_documents(corpus, comp)
        assert len(got) == len(expected) == comp.docs
        assert all(doc[-1] == eot for doc in got)
        assert all(np.array_equal(a, np.append(b, eot)) for a, b in zip(got, expected))
        assert [len(a) for a in read_indexed(prefix)] == [len(a) for a in got]


def test_megatron_export_without_eod_writes_documents_bare(corpus, tmp_path):
    target = tmp_path / "bare"
    assert main(["shards", "export", str(corpus), "--format", "megatron",
                 "--out", str(target), "--no-append-eod"]) == 0
    manifest = load_manifest(str(corpus / "manifest.json"), verify=False)
    for comp in manifest.components:
        got = megatron_documents(str(target / comp.name))
        expected = shard_documents(corpus, comp)
        assert len(got) == len(expected)
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_export_refuses_a_damaged_corpus(corpus, tmp_path, capsys):
    manifest = load_manifest(str(corpus / "manifest.json"), verify=False)
    (corpus / manifest.components[0].shards[0].path).unlink()
    assert main(["shards", "export", str(corpus), "--format", "megatron",
                 "--out", str(tmp_path / "x")]) == 2
    assert "fault(s); run codemix shards verify" in capsys.readouterr().err
