"""manifest.json: canonical bytes, and refusal when files do not match it."""

from __future__ import annotations

import json

import pytest

from shards.format import write_shard
from shards.manifest import (ComponentEntry, Manifest, ManifestError, ShardEntry,
                             TokenizerEntry, config_hash, load_manifest, locate,
                             write_manifest)


def _build(tmp_path) -> str:
    (tmp_path / "tokenizer.json").write_text('{"fake": "tokenizer"}')
    import hashlib

    tok_sha = hashlib.sha256((tmp_path / "tokenizer.json").read_bytes()).hexdigest()
    info = write_shard(str(tmp_path / "c" / "00000.shard"), [([1, 2], {"id": "x"})], "uint16")
    config = {"output": str(tmp_path), "b": [1, 2]}
    manifest = Manifest(
        format_version=1, token_dtype="uint16",
        tokenizer=TokenizerEntry(path="tokenizer.json", sha256=tok_sha, vocab_size=300,
                                 special_tokens={"<|endoftext|>": 0}),
        config=config, config_hash=config_hash(config),
        components=(ComponentEntry(name="c", kind="code", weight=1.0, epochs=None, docs=1,
                                   tokens=2, shards=(ShardEntry(path="c/00000.shard",
                                                                sha256=info.sha256, docs=1,
                                                                tokens=2),)),))
    url = str(tmp_path / "manifest.json")
    write_manifest(manifest, url)
    return url


def test_round_trip_is_canonical(tmp_path):
    url = _build(tmp_path)
    manifest = load_manifest(url)
    assert manifest.to_json() == open(url).read()
    assert manifest.component("c").shards[0].tokens == 2
    assert json.loads(manifest.to_json())["format_version"] == 1


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})


def test_changed_shard_is_refused(tmp_path):
    url = _build(tmp_path)
    write_shard(str(tmp_path / "c" / "00000.shard"), [([1, 3], {"id": "x"})], "uint16")
    with pytest.raises(ManifestError, match="c/00000.shard: sha256 mismatch"):
        load_manifest(url)
    load_manifest(url, verify=False)


def test_changed_tokenizer_is_refused(tmp_path):
    url = _build(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ManifestError, match="tokenizer tokenizer.json: sha256 mismatch"):
        load_manifest(url)


def test_missing_files_and_manifests_are_one_line_errors(tmp_path):
    url = _build(tmp_path)
    (tmp_path / "c" / "00000.shard").unlink()
    with pytest.raises(ManifestError, match="is missing"):
        load_manifest(url)
    with pytest.raises(ManifestError, match="no manifest at"):
        load_manifest(str(tmp_path / "nope.json"))


def test_edited_config_is_refused(tmp_path):
    url = _build(tmp_path)
    data = json.loads(open(url).read())
    data["config"]["b"] = [3]
    open(url, "w").write(json.dumps(data))
    with pytest.raises(ManifestError, match="config_hash"):
        load_manifest(url, verify=False)


def test_unknown_component_names_the_known_ones(tmp_path):
    manifest = load_manifest(_build(tmp_path))
    with pytest.raises(ManifestError, match="have: c"):
        manifest.component("nope")


def test_locate_finds_the_manifest_of_a_folder_directly_or_through_its_pointer(tmp_path):
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "manifest.json").write_text("{}")
    (tmp_path / "store" / "gen-abc").mkdir(parents=True)
    (tmp_path / "store" / "gen-abc" / "manifest.json").write_text("{}")
    (tmp_path / "store" / "LATEST").write_text("gen-abc\n")
    assert locate(str(tmp_path / "local")) == f"{tmp_path}/local/manifest.json"
    assert locate(f"{tmp_path}/local/manifest.json") == f"{tmp_path}/local/manifest.json"
    for given in (f"{tmp_path}/store", f"{tmp_path}/store/", f"{tmp_path}/store/manifest.json"):
        assert locate(given) == f"{tmp_path}/store/gen-abc/manifest.json"
    assert locate(f"{tmp_path}/none.json") == f"{tmp_path}/none.json"
