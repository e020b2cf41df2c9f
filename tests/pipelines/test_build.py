"""The whole build through Beam on DirectRunner, on a corpus generated at test time."""

from __future__ import annotations

import json
import pathlib

from corpus import EXPECTED_DROPS, make_corpus
from pipelines.main import run
from shards.format import Shard
from shards.manifest import load_manifest, resolve
from tokenizer.encode import decode
from tokenizer.load import load_tokenizer


def _stats(out: pathlib.Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def test_every_document_is_accounted_for(built_corpus):
    stats = _stats(built_corpus)
    assert stats["balanced"]
    for name, comp in stats["components"].items():
        assert comp["in"] == comp["kept"] + sum(comp["dropped"].values()), name


def test_planted_troubles_are_dropped_with_their_reasons(built_corpus):
    stats = _stats(built_corpus)
    for component, reasons in EXPECTED_DROPS.items():
        assert reasons <= set(stats["components"][component]["dropped"]), component
    py = stats["components"]["code-python"]["dropped"]
    assert py["exact_duplicate"] == 1 and py["near_duplicate"] == 1


def test_stage_counts_follow_the_pipeline(built_corpus):
    stages = _stats(built_corpus)["stages"]
    for comp in ("code-python", "text-docs"):
        for before, after in (("read", "clean"), ("clean", "filter"), ("filter", "dedup"),
                              ("dedup", "parse"), ("parse", "tokenize")):
            entered = stages[before]["in"].get(comp, 0)
            dropped = stages[before]["dropped"].get(comp, 0)
            assert stages[after]["in"].get(comp, 0) == entered - dropped, (comp, before)


def test_manifest_names_verified_shards_that_decode_to_the_source(built_corpus):
    url = str(built_corpus / "manifest.json")
    manifest = load_manifest(url, verify=True)
    assert [c.name for c in manifest.components] == ["code-c", "code-python", "pairs",
                                                     "text-docs"]
    assert manifest.token_dtype == "uint16" and manifest.tokenizer.vocab_size == 1024
    tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
    py = manifest.component("code-python")
    assert len(py.shards) > 1, "target_tokens is small enough to split code-python"
    source_dir = built_corpus.parent / "code" / "py"
    seen = 0
    for entry in py.shards:
        with Shard(resolve(url, entry.path)) as shard:
            assert (len(shard), shard.num_tokens) == (entry.docs, entry.tokens)
            ids = [shard.meta(i)["id"] for i in range(len(shard))]
            assert ids == sorted(ids)
            for i in range(len(shard)):
                meta = shard.meta(i)
                assert decode(tok, shard.tokens(i).tolist()) == (source_dir / meta["path"]).read_text()
                seen += 1
    assert seen == py.docs


def test_pairs_are_docstring_sep_code(built_corpus):
    url = str(built_corpus / "manifest.json")
    manifest = load_manifest(url, verify=False)
    pairs = manifest.component("pairs")
    sep = manifest.tokenizer.special_tokens["<sep>"]
    tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
    langs = set()
    for entry in pairs.shards:
        with Shard(resolve(url, entry.path)) as shard:
            for tokens, meta in shard:
                assert list(tokens).count(sep) == 1
                langs.add(meta["lang"])
                doc, code = decode(tok, tokens.tolist()).split("<sep>")
                assert doc.strip() and code.strip()
    assert langs == {"c", "python"}


def test_same_input_and_config_give_identical_bytes(tmp_path):
    config = make_corpus(tmp_path)
    out = tmp_path / "out"

    def snapshot() -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
                if p.is_file()}

    assert run([str(config)]) == 0
    first = snapshot()
    assert run([str(config), "--direct_num_workers=2",
                "--direct_running_mode=multi_threading"]) == 0
    assert snapshot() == first
    assert {"manifest.json", "stats.json", "tokenizer.json"} <= set(first)
