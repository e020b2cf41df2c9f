"""``codemix shards verify`` finds every fault; ``export --format megatron`` round-trips."""

from __future__ import annotations

import json
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


def test_megatron_export_is_read_back_by_its_layout(corpus, tmp_path, capsys):
    target = tmp_path / "megatron"
    assert main(["shards", "export", str(corpus), "--format", "megatron",
                 "--out", str(target)]) == 0
    manifest = load_manifest(str(corpus / "manifest.json"), verify=False)
    url = str(corpus / "manifest.json")
    for comp in manifest.components:
        prefix = str(target / comp.name)
        header = open(prefix + ".idx", "rb").read(34)
        assert header[:9] == MAGIC and struct.unpack_from("<QBQQ", header, 9) == (
            1, 8, comp.docs, comp.docs + 1)  # version 1, uint16, N, N + 1
        expected = []
        for entry in comp.shards:
            with Shard(resolve(url, entry.path)) as shard:
                expected += [np.asarray(t) for t, _ in shard]
        got = read_indexed(prefix)
        assert len(got) == len(expected)
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_export_refuses_a_damaged_corpus(corpus, tmp_path, capsys):
    manifest = load_manifest(str(corpus / "manifest.json"), verify=False)
    (corpus / manifest.components[0].shards[0].path).unlink()
    assert main(["shards", "export", str(corpus), "--format", "megatron",
                 "--out", str(tmp_path / "x")]) == 2
    assert "fault(s); run codemix shards verify" in capsys.readouterr().err
