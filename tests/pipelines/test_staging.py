"""Staged publishing: a rebuild killed or interrupted anywhere leaves the previous corpus
exactly as it was, and a rerun gives the bytes of a build that was never interrupted.

Each case signals a real ``codemix build`` subprocess held at a known point of its
rebuild (``tests/paused.py``), over a real corpus built before.
"""

from __future__ import annotations

import pathlib
import posixpath
import shutil
import signal

import fsspec
import pytest
import yaml
from chains import chained_corpus, write_chain_build
from paused import release, start

from codemix.cli import main
from pipelines import sharding
from pipelines.main import run
from pipelines.staging import STAGING_DIR, prepare
from pipelines.timing import reproducible_bytes
from report import REPORT_NAME
from shards.manifest import load_manifest, locate
from shards.verify import verify_corpus


def _config(root: pathlib.Path, name: str, seed: int, target_tokens: int) -> pathlib.Path:
    """A build of chained texts ``seed`` into ``root / "out"``, shards of about
    ``target_tokens``, as ``root / name``."""
    written = write_chain_build(root / name.removesuffix(".yaml"),
                                chained_corpus(seed, chains=2, links=4, singles=16))
    spec = yaml.safe_load(written.read_text())
    spec["output"] = str(root / "out")
    spec["shards"] = {"target_tokens": target_tokens}
    (root / name).write_text(yaml.safe_dump(spec))
    return root / name


def _snapshot(out: pathlib.Path) -> dict[str, bytes]:
    """Every file of the output but the staging area, by relative path, as two runs of the
    same build share it (``reproducible_bytes``: stats.json without its timings, the report
    left out); the report's presence is checked apart."""
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file() and STAGING_DIR not in p.relative_to(out).parts}
    kept = {path: reproducible_bytes(path, data) for path, data in files.items()}
    return {path: data for path, data in kept.items() if data is not None}


@pytest.fixture(scope="module")
def rebuild(tmp_path_factory):
    """An old corpus of several shards, a rebuild config of other texts in fewer shards,
    and the bytes of both builds uninterrupted (the rebuild over the old corpus)."""
    root = tmp_path_factory.mktemp("staging")
    old, new = _config(root, "old.yaml", 0, 1500), _config(root, "new.yaml", 1, 100_000)
    assert main(["build", str(old)]) == 0
    shutil.copytree(root / "out", root / "old-out")
    old_files = _snapshot(root / "out")
    assert main(["build", str(new)]) == 0
    return root, new, old_files, _snapshot(root / "out")


def _restore_old(root: pathlib.Path) -> pathlib.Path:
    out = root / "out"
    shutil.rmtree(out)
    shutil.copytree(root / "old-out", out)
    return out


def _assert_sound(out: pathlib.Path) -> None:
    assert verify_corpus(str(out / "manifest.json"))[1] == []
    load_manifest(str(out / "manifest.json"))  # what training checks before it starts


def test_a_publish_keeps_only_what_the_new_manifest_and_stats_name(rebuild):
    root, _, old_files, new_files = rebuild
    old_shards = {p for p in old_files if p.endswith(".shard")}
    new_shards = {p for p in new_files if p.endswith(".shard")}
    assert len(old_shards) > len(new_shards) >= 1
    manifest = load_manifest(str(root / "out" / "manifest.json"))
    assert new_shards == {s.path for c in manifest.components for s in c.shards}
    stats = yaml.safe_load(new_files["stats.json"])
    assert set(new_files) == {"manifest.json", "stats.json", "tokenizer.json", *new_shards,
                              *stats["drop_log"], *stats["clusters"]}
    assert (root / "out" / REPORT_NAME).is_file()  # published with the build


@pytest.mark.parametrize("point,sig", [("shards", signal.SIGKILL), ("shards", signal.SIGINT),
                                       ("finish", signal.SIGKILL), ("finish", signal.SIGTERM)])
def test_a_rebuild_stopped_before_its_publish_leaves_the_previous_corpus(rebuild, tmp_path,
                                                                         point, sig):
    root, new, old_files, new_files = rebuild
    out = _restore_old(root)
    proc = start(point, tmp_path / "paused", "build", "-q", str(new))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert _snapshot(out) == old_files
    _assert_sound(out)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        assert main(["build", str(new)]) == 0
        assert _snapshot(out) == new_files
        assert not (out / STAGING_DIR).exists()
    else:
        assert proc.returncode == 130
        assert err == f"codemix: interrupted; the corpus at {out} is unchanged\n"
        assert not (out / STAGING_DIR).exists()


def test_a_publish_killed_part_way_is_finished_before_the_next_build(rebuild, tmp_path):
    root, _, _, new_files = rebuild
    out = _restore_old(root)
    proc = start("publish", tmp_path / "paused", "build", "-q", str(root / "new.yaml"))
    proc.kill()
    proc.communicate(timeout=120)
    assert not (out / "manifest.json").exists()  # neither corpus is named meanwhile
    prepare(str(out), str(out / STAGING_DIR))
    assert _snapshot(out) == new_files
    _assert_sound(out)


def test_an_interrupt_during_the_publish_waits_for_it_to_end(rebuild, tmp_path):
    root, _, _, new_files = rebuild
    out = _restore_old(root)
    proc = start("publish", tmp_path / "paused", "build", "-q", str(root / "new.yaml"))
    proc.send_signal(signal.SIGINT)
    release(tmp_path / "paused")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err == "codemix: interrupted\n"
    assert _snapshot(out) == new_files
    _assert_sound(out)


def _memory_files(fs, root: str) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, as two runs of a build share it."""
    files = {path.removeprefix(root + "/"): fs.cat_file(path) for path in sorted(fs.find(root))}
    kept = {rel: reproducible_bytes(posixpath.basename(rel) if rel.endswith(
        ("stats.json", "report.html")) else rel, data) for rel, data in files.items()}
    return {rel: data for rel, data in kept.items() if data is not None}


def test_on_an_object_store_a_pointer_names_the_published_generation(tmp_path, monkeypatch):
    fs, root = fsspec.filesystem("memory"), f"/staging-test-{tmp_path.name}/out"
    configs = {}
    for name, seed in (("old.yaml", 0), ("new.yaml", 1)):
        spec = yaml.safe_load(_config(tmp_path, name, seed, 100_000).read_text())
        (tmp_path / name).write_text(yaml.safe_dump({**spec, "output": f"memory://{root}"}))
        configs[name] = str(tmp_path / name)
    try:
        assert main(["build", configs["old.yaml"]]) == 0
        first = fs.cat_file(f"{root}/LATEST").decode().strip()
        assert first.startswith("gen-") and sorted(fs.ls(root, detail=False)) == [
            f"{root}/LATEST", f"{root}/{first}"]
        url = locate(f"memory://{root}")
        assert url == f"memory://{root}/{first}/manifest.json"
        assert verify_corpus(url)[1] == [] and load_manifest(url)
        before = _memory_files(fs, root)

        def interrupted(*args):
            raise KeyboardInterrupt("SIGINT")
        monkeypatch.setattr(sharding, "_write_group", interrupted)
        with pytest.raises(KeyboardInterrupt, match="is unchanged"):
            run([configs["new.yaml"]])
        assert _memory_files(fs, root) == before  # its generation was discarded
        monkeypatch.undo()

        assert main(["build", configs["new.yaml"]]) == 0
        second = fs.cat_file(f"{root}/LATEST").decode().strip()
        assert second != first and not fs.exists(f"{root}/{first}")
        assert verify_corpus(locate(f"memory://{root}/manifest.json"))[1] == []
        assert main(["build", configs["old.yaml"]]) == 0  # the first corpus again, to the byte
        third = fs.cat_file(f"{root}/LATEST").decode().strip()
        again = _memory_files(fs, f"{root}/{third}")
        assert again == {rel.removeprefix(f"{first}/"): data for rel, data in before.items()
                         if rel.startswith(f"{first}/")}
    finally:
        fs.rm(posixpath.dirname(root), recursive=True)
