"""The git source: a repository's committed tree, read through git's plumbing."""

from __future__ import annotations

import os
import subprocess

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record
from pipelines.sources import git, read_input
from pipelines.sources.unit import Unit

COMP = ComponentSpec(name="code", kind="code", inputs=(InputSpec(url="x", format="git"),),
                     weight=0.5)
DATE = "2021-03-04T05:06:07+02:00"


def _git(repo, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@example.com",
           "GIT_COMMITTER_NAME": "c", "GIT_COMMITTER_EMAIL": "c@example.com",
           "GIT_AUTHOR_DATE": DATE, "GIT_COMMITTER_DATE": DATE}
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                          capture_output=True).stdout.decode().strip()


def _repo(path, files):
    """A repository at ``path`` with one commit holding ``files`` (relative path -> bytes)."""
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    _commit(path, files)
    return path


def _commit(path, files):
    for rel, data in files.items():
        target = os.path.join(os.fsencode(path), rel if isinstance(rel, bytes) else rel.encode())
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "files")
    return _git(path, "rev-parse", "HEAD")


def _read(spec):
    return list(read_input(spec, COMP))


def _records(out):
    return {r.path: r for r in out if isinstance(r, Record)}


def _drops(out):
    return sorted((d.reason, d.id.rsplit(":", 1)[-1]) for d in out if isinstance(d, Drop))


def test_records_carry_text_repo_blob_revision_and_commit_date(tmp_path):
    repo = _repo(tmp_path / "proj", {"a.py": b"print('a')\n", "pkg/b.py": b"x = 1\n"})
    head = _git(repo, "rev-parse", "HEAD")
    blob = _git(repo, "rev-parse", "HEAD:pkg/b.py")
    records = _records(_read(InputSpec(url=str(repo), format="git")))
    assert sorted(records) == ["a.py", "pkg/b.py"]
    record = records["pkg/b.py"]
    assert (record.text, record.repo, record.kind, record.component) == (
        "x = 1\n", "proj", "code", "code")
    assert record.meta == {"blob": blob, "revision": head, "date": DATE, "bytes": 6}


def test_working_tree_changes_and_untracked_files_are_not_read(tmp_path):
    repo = _repo(tmp_path / "proj", {"a.py": b"committed\n"})
    (repo / "a.py").write_text("edited, not committed\n")
    (repo / "new.py").write_text("untracked\n")
    records = _records(_read(InputSpec(url=str(repo), format="git")))
    assert {p: r.text for p, r in records.items()} == {"a.py": "committed\n"}


def test_ref_selects_an_older_commit(tmp_path):
    repo = _repo(tmp_path / "proj", {"a.py": b"one\n"})
    _git(repo, "tag", "v1")
    _commit(repo, {"a.py": b"two\n", "b.py": b"bee\n"})
    records = _records(_read(InputSpec(url=str(repo), format="git", ref="v1")))
    assert {p: r.text for p, r in records.items()} == {"a.py": "one\n"}


def test_bare_repository_and_file_url_are_read(tmp_path):
    repo = _repo(tmp_path / "proj", {"a.py": b"one\n"})
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(tmp_path / "proj.git")],
                   check=True)
    records = _records(_read(InputSpec(url=f"file://{tmp_path}/proj.git", format="git")))
    assert [(r.path, r.repo) for r in records.values()] == [("a.py", "proj.git")]


def test_symlink_is_dropped_and_submodule_skipped(tmp_path):
    repo = _repo(tmp_path / "proj", {"a.py": b"one\n"})
    os.symlink("a.py", repo / "link.py")
    head = _git(repo, "rev-parse", "HEAD")
    _git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},vendor/sub")
    _commit(repo, {})
    out = _read(InputSpec(url=str(repo), format="git"))
    assert sorted(_records(out)) == ["a.py"]
    assert _drops(out) == [("symlink", "link.py")]


def test_blob_over_max_bytes_is_dropped_at_listing(tmp_path):
    repo = _repo(tmp_path / "proj", {"small.py": b"s\n", "big.py": b"b" * 5000})
    spec = InputSpec(url=str(repo), format="git", max_bytes=1000)
    drops = [u for u in git.list_units(spec, COMP) if isinstance(u, Drop)]
    assert [(d.reason, d.bytes) for d in drops] == [("too_large", 5000)]
    assert sorted(_records(_read(spec))) == ["small.py"]


def test_missing_blob_is_one_unreadable_drop_and_the_rest_are_read(tmp_path):
    repo = _repo(tmp_path / "proj", {"a.py": b"a\n", "b.py": b"b\n", "c.py": b"c\n"})
    blob = _git(repo, "rev-parse", "HEAD:b.py")
    os.remove(repo / ".git" / "objects" / blob[:2] / blob[2:])
    out = _read(InputSpec(url=str(repo), format="git"))
    assert sorted(_records(out)) == ["a.py", "c.py"]
    assert _drops(out) == [("unreadable", "b.py")]


def test_non_utf8_file_name_gets_a_printable_path(tmp_path):
    repo = _repo(tmp_path / "proj", {b"caf\xe9.py": b"x = 1\n"})
    assert sorted(_records(_read(InputSpec(url=str(repo), format="git")))) == ["caf\\xe9.py"]


def test_include_exclude_and_max_files_apply_to_paths(tmp_path):
    files = {f"src/m{i}.py": f"v = {i}\n".encode() for i in range(10)}
    repo = _repo(tmp_path / "proj", {**files, "README.md": b"r\n", "src/t_test.py": b"t\n"})
    spec = InputSpec(url=str(repo), format="git", include=("**/*.py",), exclude=("*test*",),
                     max_files=4)
    first = sorted(_records(_read(spec)))
    assert len(first) == 4 and all(p.startswith("src/m") for p in first)
    assert sorted(_records(_read(spec))) == first


def test_big_repository_is_split_into_slices_read_once_each(tmp_path):
    repo = _repo(tmp_path / "proj", {f"f{i:02}.py": b"x" * 40 + b"\n" for i in range(20)})
    spec = InputSpec(url=str(repo), format="git", split_bytes=200)
    units = list(git.list_units(spec, COMP))
    assert len(units) == 5 and all(isinstance(u, Unit) for u in units)
    assert [(u.start, u.stop) for u in units] == [(i, i + 4) for i in range(0, 20, 4)]
    paths = [r.path for u in units for r in git.read_unit(spec, COMP, u)]
    assert paths == [f"f{i:02}.py" for i in range(20)]


def test_unit_keeps_reading_its_commit_after_the_branch_moves(tmp_path):
    repo = _repo(tmp_path / "proj", {"a.py": b"one\n"})
    spec = InputSpec(url=str(repo), format="git")
    (unit,) = git.list_units(spec, COMP)
    _commit(repo, {"a.py": b"two\n"})
    assert [r.text for r in git.read_unit(spec, COMP, unit)] == ["one\n"]


def test_slices_respect_the_file_count_and_byte_budget():
    assert list(git._slices([1] * 2500, 10**9)) == [(0, 1000), (1000, 2000), (2000, 2500)]
    assert list(git._slices([5, 500, 5, 5], 100)) == [(0, 1), (1, 2), (2, 4)]
    assert list(git._slices([], 100)) == []


def test_folder_that_is_not_a_repository_is_one_drop(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.py").write_text("x\n")
    for url in (str(tmp_path / "plain"), str(tmp_path / "missing")):
        (drop,) = _read(InputSpec(url=url, format="git"))
        assert (drop.reason, drop.id, drop.stage) == ("not_a_repository", url, "read")
        assert url in drop.detail


def test_folder_inside_another_repository_is_not_a_repository(tmp_path):
    repo = _repo(tmp_path / "proj", {"sub/a.py": b"x\n"})
    (drop,) = _read(InputSpec(url=str(repo / "sub"), format="git"))
    assert drop.reason == "not_a_repository"


def test_unknown_ref_is_one_bad_ref_drop(tmp_path):
    repo = _repo(tmp_path / "proj", {"a.py": b"x\n"})
    for ref in ("nope", "--all", "HEAD~5"):
        (drop,) = _read(InputSpec(url=str(repo), format="git", ref=ref))
        assert drop.reason == "bad_ref" and str(repo) in drop.detail


def test_vanished_repository_at_read_time_is_one_drop(tmp_path):
    repo = _repo(tmp_path / "proj", {"a.py": b"x\n"})
    spec = InputSpec(url=str(repo), format="git")
    (unit,) = git.list_units(spec, COMP)
    subprocess.run(["rm", "-rf", str(repo / ".git")], check=True)
    (drop,) = git.read_unit(spec, COMP, unit)
    assert drop.reason == "unreadable" and str(repo) in drop.id
