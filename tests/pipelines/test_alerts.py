"""Loud results: an input that kept nothing or lost most of itself at read, and an empty
component, are warnings after the build; ``--strict`` or ``strict: true`` refuses them."""

from __future__ import annotations

import json
import pathlib
import random
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml
from corpus import MIT

from codemix.cli import main
from pipelines.alerts import build_alerts
from pipelines.config import parse_config
from shards.format import Shard
from shards.manifest import load_manifest, resolve

STDLIB_JSON = pathlib.Path(json.__file__).parent


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    words = [f"w{seed}x{i}" for i in range(300)]
    return [" ".join(rng.choice(words) for _ in range(120)) for _ in range(n)]


def _jsonl(texts: list[str]) -> str:
    return "".join(json.dumps({"text": t}) + "\n" for t in texts)


def _source(n_in: int, kept: int, read: dict[str, int], later: dict[str, int]) -> dict:
    return {"in": n_in, "kept": kept, "dropped": {**read, **later}, "read_dropped": read}


def _config(**top) -> object:
    return parse_config({"output": "out", **top, "components": {
        "a": {"kind": "text", "weight": 0.5, "inputs": [{"url": "x.jsonl", "format": "jsonl"},
                                                         {"url": "y.jsonl", "format": "jsonl"}]},
        "b": {"kind": "text", "weight": 0.5, "inputs": [{"url": "z.jsonl", "format": "jsonl"}]}}},
        check_paths=False)


def test_a_read_loss_above_the_bound_is_a_warning_and_at_the_bound_is_not():
    stats = {"components": {
        "a": {"in": 20, "kept": 9, "dropped": {}, "sources": {
            "x.jsonl": _source(10, 4, {"bad_json": 5, "unreadable": 1}, {}),
            "y.jsonl": _source(10, 5, {"bad_json": 5}, {})}},
        "b": {"in": 4, "kept": 4, "dropped": {}, "sources": {"z.jsonl": _source(4, 4, {}, {})}}}}
    assert build_alerts(stats, _config()) == [
        "input x.jsonl of a: 6 of 10 units (60%) lost at the read stage, more than "
        "warn_drop_fraction 0.5; top reasons: bad_json 5, unreadable 1"]
    assert build_alerts(stats, _config(warn_drop_fraction=0.6)) == []


def test_an_input_that_kept_or_listed_nothing_and_an_empty_component_are_warnings():
    stats = {"components": {
        "a": {"in": 3, "kept": 3, "dropped": {}, "sources": {
            "x.jsonl": _source(3, 3, {}, {})}},
        "b": {"in": 7, "kept": 0, "dropped": {"near_duplicate": 2, "too_short": 5},
              "sources": {"z.jsonl": _source(7, 0, {}, {"near_duplicate": 2,
                                                        "too_short": 5})}}}}
    assert build_alerts(stats, _config()) == [
        "input y.jsonl of a: nothing to read (no file or row found)",
        "input z.jsonl of b: no document kept of 7 read; top reasons: too_short 5, "
        "near_duplicate 2",
        "component b: empty, no document kept of 7; top reasons: too_short 5, near_duplicate 2"]


def test_warn_drop_fraction_is_a_share():
    with pytest.raises(ValueError, match="warn_drop_fraction must be in"):
        _config(warn_drop_fraction=1.5)


@pytest.fixture(scope="module")
def troubled(tmp_path_factory):
    """A build of the losses users met, each in its own component, beside a sound one:
    a ``.jsonl.gz`` that is plain text, a JSONL input that is a tarball, a JSONL file whose
    lines are mostly not JSON, a ``git`` input that is not a repository, and a repository
    without a license under ``permissive_only``. Built once; the stderr of the build."""
    root = tmp_path_factory.mktemp("alerts")
    (root / "good.jsonl").write_text(_jsonl(_texts(0, 20)))
    (root / "plain.jsonl.gz").write_text(_jsonl(_texts(1, 3)))
    (root / "mixed.jsonl").write_text(_jsonl(_texts(2, 4)) + "not json\n" * 6)
    for name in ("code", "notrepo", "unlicensed", "mit"):
        shutil.copytree(STDLIB_JSON, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "mit" / "LICENSE").write_text(MIT)
    with tarfile.open(root / "code.tar.gz", "w:gz") as tar:
        tar.add(root / "code", arcname="json")
    jsonl = lambda name, **kw: {"url": str(root / name), "format": "jsonl", **kw}
    spec = {"output": str(root / "out"), "tokenizer": {"vocab_size": 600, "sample_docs": 50},
            "components": {
                "good": {"kind": "text", "weight": 0.4, "inputs": [jsonl("good.jsonl")]},
                "gz": {"kind": "text", "weight": 0.1, "inputs": [jsonl("plain.jsonl.gz")]},
                "tar": {"kind": "text", "weight": 0.1,
                        "inputs": [jsonl("code.tar.gz"), jsonl("mixed.jsonl")]},
                "git": {"kind": "code", "weight": 0.1,
                        "inputs": [{"url": str(root / "notrepo"), "format": "git"}]},
                "licensed": {"kind": "code", "weight": 0.2, "clean": {"permissive_only": True},
                             "inputs": [{"url": str(root / "unlicensed"), "format": "folder",
                                         "include": ["*.py"]}]},
                "mit": {"kind": "code", "weight": 0.1, "clean": {"permissive_only": True},
                        "inputs": [{"url": str(root / "mit"), "format": "folder",
                                    "include": ["*.py"]}]}}}
    (root / "build.yaml").write_text(yaml.safe_dump(spec))
    result = subprocess.run([sys.executable, "-m", "codemix", "build", str(root / "build.yaml")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return root, spec, result.stderr


def test_every_lost_input_and_empty_component_is_named_with_its_reasons(troubled):
    root, _, err = troubled
    stats = json.loads((root / "out" / "stats.json").read_text())
    tar_units = stats["components"]["tar"]["sources"][f"{root}/code.tar.gz"]["in"]
    warnings = [line for line in err.splitlines() if line.startswith("codemix: warning: ")]
    # In config order: yaml.safe_dump wrote the components sorted by name.
    assert [line.removeprefix("codemix: warning: ").split(";")[0] for line in warnings] == [
        f"input {root}/notrepo of git: no document kept of 1 read",
        "component git: empty, no document kept of 1",
        f"input {root}/plain.jsonl.gz of gz: no document kept of 1 read",
        "component gz: empty, no document kept of 1",
        f"input {root}/unlicensed of licensed: no document kept of 5 read",
        f"input {root}/unlicensed of licensed: repository unlicensed has no license file",
        "component licensed: empty, no document kept of 5",
        f"input {root}/code.tar.gz of tar: no document kept of {tar_units} read",
        f"input {root}/mixed.jsonl of tar: 6 of 10 units (60%) lost at the read stage, more "
        "than warn_drop_fraction 0.5"]
    reasons = [line.split("; top reasons: ")[-1] for line in warnings]
    assert reasons[0] == "not_a_repository 1" and reasons[2] == "unreadable 1"
    assert reasons[4] == "not_permissive 5" and reasons[7].startswith("bad_json ")
    assert reasons[8] == "bad_json 6"
    assert warnings[5].endswith("; permissive_only dropped its 5 document(s)")


def test_a_license_file_outside_include_licenses_its_repository_and_is_no_document(troubled):
    root, _, err = troubled
    assert " of mit:" not in err  # its documents are licensed, so kept
    stats = json.loads((root / "out" / "stats.json").read_text())
    mit = stats["components"]["mit"]
    assert (mit["kept"], mit["dropped"]) == (5, {"license_file": 1})
    manifest = load_manifest(str(root / "out" / "manifest.json"))
    with Shard(resolve(str(root / "out" / "manifest.json"),
                       manifest.component("mit").shards[0].path)) as shard:
        metas = [shard.meta(i) for i in range(len(shard))]
    assert sorted(m["path"] for m in metas) == sorted(
        p.name for p in (root / "mit").glob("*.py"))
    assert {m["license"] for m in metas} == {"MIT"}


def _files(out: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("how", ["flag", "config"])
def test_a_strict_build_with_warnings_publishes_nothing(troubled, capsys, how):
    root, spec, _ = troubled
    before = _files(root / "out")
    (root / "good.jsonl").write_text(_jsonl(_texts(3, 20)))  # the new build would differ
    config = root / f"strict-{how}.yaml"
    config.write_text(yaml.safe_dump({**spec, "strict": how == "config"}))
    argv = ["build", str(config)] + (["--strict"] if how == "flag" else [])
    assert main(argv) == 1
    assert _files(root / "out") == before
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 10 and all(line.startswith("codemix: error: ") for line in err)
    assert err[-1] == (f"codemix: error: strict: 9 warning(s), nothing published; the corpus "
                       f"at {root}/out is unchanged")
