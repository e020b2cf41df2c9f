"""``codemix shards export --format parquet|jsonl``: the kept documents' text and metadata,
read back by Hugging Face ``datasets``; ``--format megatron`` comes with its blend."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from codemix.cli import main
from shards.format import Shard
from shards.manifest import load_manifest, resolve
from tokenizer.encode import decode
from tokenizer.load import load_tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "runners"))
from venvs import cached  # noqa: E402

DATASETS = "datasets==5.2.0"


def _documents(built: pathlib.Path) -> dict[str, list[tuple[str, str]]]:
    """component -> [(id, text)] in shard order, decoded here from the shards."""
    url = str(built / "manifest.json")
    manifest = load_manifest(url, verify=False)
    tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
    out = {}
    for comp in manifest.components:
        docs = []
        for entry in comp.shards:
            with Shard(resolve(url, entry.path)) as shard:
                docs += [(meta["id"], decode(tok, tokens.tolist())) for tokens, meta in shard]
        out[comp.name] = docs
    return out


def test_jsonl_export_holds_every_kept_document_with_its_metadata(built_corpus, tmp_path):
    assert main(["shards", "export", str(built_corpus), "--format", "jsonl",
                 "--out", str(tmp_path / "x")]) == 0
    for name, docs in _documents(built_corpus).items():
        rows = [json.loads(line) for f in sorted((tmp_path / "x" / name).glob("*.jsonl"))
                for line in f.read_text().splitlines()]
        assert [(r["id"], r["text"]) for r in rows] == docs
        assert {r["component"] for r in rows} == {name}
        if name == "pairs":
            assert all("<sep>" in r["text"] and r["meta"]["source_id"] for r in rows)
        else:
            assert all(r["path"] and r["lang"] for r in rows)


def test_parquet_export_loads_with_hugging_face_datasets(built_corpus, tmp_path):
    out = tmp_path / "parquet"
    assert main(["shards", "export", str(built_corpus), "--format", "parquet",
                 "--out", str(out)]) == 0
    expected = _documents(built_corpus)
    for name, docs in expected.items():
        files = sorted((out / name).glob("*.parquet"))
        table = pq.read_table(files[0])
        assert table.column_names[:4] == ["component", "id", "text", "tokens"]
    python = cached("datasets", DATASETS)
    script = (
        "import datasets, json, sys\n"
        "files = json.loads(sys.argv[1])\n"
        "ds = datasets.load_dataset('parquet', data_files=files)\n"
        "print(json.dumps({k: [[r['id'], r['text']] for r in ds[k]] for k in files}))\n")
    # A split's name is a word: code-python loads as the split code_python.
    files = {name.replace("-", "_"): str(out / name / "*.parquet") for name in expected}
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run([str(python), "-c", script, json.dumps(files)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert {k: [tuple(r) for r in v] for k, v in loaded.items()} == {
        k.replace("-", "_"): v for k, v in expected.items()}


def test_megatron_export_writes_the_blend_of_the_mixture(built_corpus, tmp_path, capsys):
    out = tmp_path / "megatron"
    assert main(["shards", "export", str(built_corpus), "--format", "megatron",
                 "--out", str(out)]) == 0
    blend = (out / "blend.txt").read_text().split()
    assert f"--data-path {' '.join(blend)}" in capsys.readouterr().out
    weights = {pathlib.Path(p).name: float(w) for w, p in zip(blend[::2], blend[1::2])}
    for prefix in blend[1::2]:
        assert pathlib.Path(prefix + ".bin").is_file() and pathlib.Path(prefix + ".idx").is_file()
    # The config: weights 0.5, 0.25, 0.1 are shares of the whole mixture epoch; code-c
    # (given by epochs) fills the rest.
    assert weights == pytest.approx({"code-python": 0.5, "text-docs": 0.25, "pairs": 0.1,
                                     "code-c": 0.15}, abs=2e-3)
    assert sum(weights.values()) == pytest.approx(1.0)
