"""Folder and package-metadata sources: listing a tree safely, reading each file once."""

from __future__ import annotations

import contextlib
import os
import pathlib
import pickle
import shutil
import socket
import tempfile

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.accounting import Drop
from pipelines.config import CleanSpec, ComponentSpec, InputSpec
from pipelines.records import Record, record_id
from pipelines.sources import list_units, read_input, read_unit
from pipelines.sources.listing import chosen, for_license_only, matches, sample_key
from pipelines.sources.package_metadata import to_record as metadata_record
from pipelines.sources.reading import read_bounded
from pipelines.sources.unit import Unit


def _spec(root, **kw) -> InputSpec:
    return InputSpec(url=str(root), format=kw.pop("format", "folder"), **kw)


def _comp(spec: InputSpec, **clean) -> ComponentSpec:
    return ComponentSpec(name="c", kind="code", weight=1.0, inputs=(spec,),
                         clean=CleanSpec(**clean))


def _write(root, files: dict[str, bytes | str]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)


def _tree(root) -> None:
    _write(root, {rel: f"# {rel}\n" for rel in
                  ("a.py", "pkg/b.py", "pkg/c.txt", "pkg/tests/d.py", "e.py")})


def _units(spec: InputSpec) -> list[Unit]:
    return [u for u in list_units(spec, _comp(spec)) if isinstance(u, Unit)]


def _drops(spec: InputSpec) -> list[Drop]:
    return [d for d in list_units(spec, _comp(spec)) if isinstance(d, Drop)]


def _paths(spec: InputSpec) -> list[str]:
    return [u.path for u in _units(spec)]


def _read(spec: InputSpec, unit: Unit, **clean) -> Record | Drop:
    (out,) = read_unit(spec, _comp(spec, **clean), unit)
    return out


def _summary(out: Record | Drop) -> tuple[str, str, str]:
    """A record as (path, text); a drop as (id, reason)."""
    if isinstance(out, Record):
        return ("Record", out.path, out.text)
    return ("Drop", out.id, out.reason)


def _read_all(spec: InputSpec) -> list[Record | Drop]:
    return list(read_input(spec, _comp(spec)))


# ----------------------------------------------------------------------- selection, order

def test_listing_applies_include_and_exclude(tmp_path):
    _tree(tmp_path)
    spec = _spec(tmp_path, include=("**/*.py",), exclude=("**/tests/**",))
    assert _paths(spec) == ["a.py", "e.py", "pkg/b.py"]


def test_max_files_picks_the_same_spread_sample_every_time(tmp_path):
    _tree(tmp_path)
    spec = _spec(tmp_path, include=("**/*.py",), max_files=2)
    first = _paths(spec)
    every = ["a.py", "e.py", "pkg/b.py", "pkg/tests/d.py"]
    assert first == sorted(sorted(every, key=sample_key)[:2]) == _paths(spec)


def test_root_license_files_are_read_whatever_include_says_outside_the_sample(tmp_path):
    _tree(tmp_path)
    _write(tmp_path, {"LICENSE": "MIT License\n", "COPYING.md": "x", "pkg/LICENSE": "x"})
    spec = _spec(tmp_path, include=("**/*.py",), max_files=2)
    sample = sorted(sorted(["a.py", "e.py", "pkg/b.py", "pkg/tests/d.py"], key=sample_key)[:2])
    assert _paths(spec) == sorted(["COPYING.md", "LICENSE", *sample])
    records = [r for r in _read_all(spec) if isinstance(r, Record)]
    assert {r.path for r in records if r.meta.get("license_file")} == {"COPYING.md", "LICENSE"}


@pytest.mark.parametrize("include, license_only", [
    (("**",), True), (("*.md", "LICENSE"), False), (("LICEN*",), False), (("*.py",), True)])
def test_only_a_pattern_that_names_a_license_file_makes_it_a_document(include, license_only):
    assert for_license_only("LICENSE", include) is license_only
    assert not for_license_only("src/LICENSE", include)  # not at the repository root
    assert chosen(["LICENSE", "src/LICENSE", "a.py"], _spec("x", include=include)) == sorted(
        {0, *(i for i, p in enumerate(["LICENSE", "src/LICENSE", "a.py"])
              if matches(p, include))})


def test_listing_is_depth_first_with_names_in_byte_order(tmp_path):
    _write(tmp_path, {"b.py": "", "a-b.py": "", "a/z.py": "", "a/y/x.py": "", "B.py": ""})
    # "a-b.py" sorts before "a/..." as a string, but the folder "a" comes first by name.
    assert _paths(_spec(tmp_path)) == ["B.py", "a/y/x.py", "a/z.py", "a-b.py", "b.py"]


def test_missing_folder_is_one_unlistable_drop(tmp_path):
    spec = _spec(tmp_path / "gone")
    assert list(list_units(spec, _comp(spec))) == [
        Drop("c", "read", "unlistable", f"{spec.label}:.", spec.label, 0,
             "No such file or directory")]


# ------------------------------------------------------------------------------- records

def test_record_has_repo_path_source_and_content_id(tmp_path):
    _tree(tmp_path)
    spec = _spec(tmp_path, name="myrepo")
    record = _read(spec, Unit("pkg/b.py"))
    assert (record.repo, record.path, record.text, record.component, record.kind,
            record.source) == ("myrepo", "pkg/b.py", "# pkg/b.py\n", "c", "code", "myrepo")
    assert record.id == record_id("myrepo:pkg/b.py", "# pkg/b.py\n") == _read(
        spec, Unit("pkg/b.py")).id


def test_repo_defaults_to_the_folder_name(tmp_path):
    _tree(tmp_path)
    assert _read(_spec(tmp_path), Unit("a.py")).repo == tmp_path.name


def test_binary_and_latin1_files_are_drops_named_by_location(tmp_path):
    _write(tmp_path, {"bin.dat": b"ab\0cd", "latin.py": "caf\xe9".encode("latin-1")})
    spec = _spec(tmp_path)
    assert _read(spec, Unit("bin.dat")) == Drop(
        "c", "read", "binary", f"{spec.label}:bin.dat", spec.label, 5)
    assert _read(spec, Unit("latin.py")).reason == "not_utf8"


def test_latin1_file_is_transcoded_when_the_component_says_so(tmp_path):
    _write(tmp_path, {"latin.py": "caf\xe9".encode("latin-1")})
    record = _read(_spec(tmp_path), Unit("latin.py"), non_utf8="decode")
    assert (record.text, record.meta["edits"]) == ("caf\xe9", {"transcoded": 1})


def test_byte_order_mark_is_removed(tmp_path):
    _write(tmp_path, {"bom.py": b"\xef\xbb\xbfx = 1"})
    assert _read(_spec(tmp_path), Unit("bom.py")).text == "x = 1"


def test_missing_file_is_unreadable(tmp_path):
    spec = _spec(tmp_path)
    assert _read(spec, Unit("gone.py")) == Drop(
        "c", "read", "unreadable", f"{spec.label}:gone.py", spec.label)


def test_file_grown_past_max_bytes_after_listing_is_too_large(tmp_path):
    _write(tmp_path, {"a.py": "x"})
    spec = _spec(tmp_path, max_bytes=10)
    (unit,) = _units(spec)
    _write(tmp_path, {"a.py": "x" * 11})
    assert _read(spec, unit).reason == "too_large"


def test_oversized_file_is_dropped_at_listing_by_its_size(tmp_path):
    _write(tmp_path, {"big.py": "x" * 11, "ok.py": "x" * 10})
    spec = _spec(tmp_path, max_bytes=10)
    assert list(list_units(spec, _comp(spec))) == [
        Drop("c", "read", "too_large", f"{spec.label}:big.py", spec.label, 11), Unit("ok.py")]


# ------------------------------------------------------------------ many repositories

def test_each_top_level_folder_is_a_repository_of_its_own(tmp_path):
    _write(tmp_path, {"one/src/a.py": "a", "one/README.md": "r", "two/b.py": "b",
                      "two/tests/t.py": "t", "notes.txt": "top"})
    spec = _spec(tmp_path, name="clones", repos=True, include=("**/*.py",),
                 exclude=("tests/**",))
    out = list(list_units(spec, _comp(spec)))
    assert out == [Drop("c", "read", "not_in_repo", "clones:notes.txt", "clones", 3),
                   Unit("one/src/a.py", repo="one"), Unit("two/b.py", repo="two")]
    records = [_read(spec, u) for u in out[1:]]
    assert [(r.repo, r.path) for r in records] == [("clones/one", "src/a.py"),
                                                  ("clones/two", "b.py")]


def test_repository_with_an_undecodable_name_is_read(tmp_path):
    root = os.fsencode(tmp_path)
    os.makedirs(os.path.join(root, b"r\xffepo", b"src"))
    with open(os.path.join(root, b"r\xffepo", b"src", b"m\xfe.py"), "wb") as f:
        f.write(b"x = 1\n")
    spec = _spec(tmp_path, name="clones", repos=True)
    (unit,) = _units(spec)
    assert (unit.path, unit.repo, unit.raw) == (
        "r\\xffepo/src/m\\xfe.py", "r\\xffepo", b"r\xffepo/src/m\xfe.py")
    record = _read(spec, unit)
    assert (record.repo, record.path, record.text) == (
        "clones/r\\xffepo", "src/m\\xfe.py", "x = 1\n")


# ------------------------------------------------------------------------- addressing

def test_file_url_lists_and_reads_like_a_plain_path(tmp_path):
    _tree(tmp_path)
    plain, url = _spec(tmp_path), _spec(f"file://{tmp_path}", name=tmp_path.name)
    assert _units(url) == _units(plain)
    assert _read(url, Unit("a.py")).text == "# a.py\n"


def test_memory_url_is_listed_and_read_through_fsspec():
    import fsspec
    fs = fsspec.filesystem("memory")
    files = {"/mem-test/a.py": b"a = 1\n", "/mem-test/pkg/b.py": b"\xef\xbb\xbfb = 2\n",
             "/mem-test/.git/HEAD": b"ref", "/mem-test/big.py": b"x" * 50,
             "/mem-test/bin.dat": b"\0\0"}
    for path, data in files.items():
        fs.pipe(path, data)
    try:
        spec = _spec("memory://mem-test", max_bytes=40)
        out = _read_all(spec)
        assert [_summary(o) for o in out] == [("Record", "a.py", "a = 1\n"),
                                  ("Drop", "memory://mem-test:big.py", "too_large"),
                                  ("Drop", "memory://mem-test:bin.dat", "binary"),
                                  ("Record", "pkg/b.py", "b = 2\n")]
        assert {o.repo for o in out if isinstance(o, Record)} == {"mem-test"}
    finally:
        fs.rm("/mem-test", recursive=True)


def test_memory_url_with_repos_names_repositories_by_top_folder():
    import fsspec
    fs = fsspec.filesystem("memory")
    fs.pipe({"/mem-repos/x/a.py": b"a", "/mem-repos/y/b.py": b"b", "/mem-repos/top": b"t"})
    try:
        spec = _spec("memory://mem-repos", repos=True)
        assert list(list_units(spec, _comp(spec))) == [
            Drop("c", "read", "not_in_repo", "memory://mem-repos:top", spec.label, 1),
            Unit("x/a.py", repo="x"), Unit("y/b.py", repo="y")]
        assert _read(spec, Unit("y/b.py", repo="y")).path == "b.py"
    finally:
        fs.rm("/mem-repos", recursive=True)


# ---------------------------------------------------------------- what a checkout holds

def test_version_control_internals_are_never_listed(tmp_path):
    _write(tmp_path, {".git/config": "x", ".git/objects/ab/cd": "x", ".hg/store": "x",
                      "sub/.svn/entries": "x", "vendored/.git": "gitdir: ../.git/modules/v",
                      "vendored/v.py": "v", "a.py": "a", ".gitignore": "*.o"})
    assert _paths(_spec(tmp_path)) == [".gitignore", "a.py", "vendored/v.py"]


def test_fifo_and_socket_are_dropped_at_listing_without_opening(tmp_path):
    _write(tmp_path, {"a.py": "a"})
    os.mkfifo(tmp_path / "pipe.py")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock.py"))
        spec = _spec(tmp_path)
        out = _read_all(spec)
    assert [_summary(o) for o in out] == [
        ("Record", "a.py", "a"),
        ("Drop", f"{spec.label}:pipe.py", "not_regular_file"),
        ("Drop", f"{spec.label}:sock.py", "not_regular_file")]
    assert [o.detail[0] for o in out[1:]] == ["p", "s"]  # the file type, as ls shows it


def test_file_replaced_by_a_fifo_after_listing_is_refused_without_blocking(tmp_path):
    _write(tmp_path, {"a.py": "a"})
    spec = _spec(tmp_path, timeout_s=30)
    (unit,) = _units(spec)
    os.remove(tmp_path / "a.py")
    os.mkfifo(tmp_path / "a.py")
    assert _read(spec, unit) == Drop("c", "read", "not_regular_file", f"{spec.label}:a.py",
                                     spec.label)


def test_symlinks_out_of_the_root_are_dropped(tmp_path):
    outside, root = tmp_path / "outside", tmp_path / "root"
    _write(outside, {"secret.py": "s", "dir/x.py": "x"})
    _write(root, {"a.py": "a", ".git/config": "c"})
    (root / "file.py").symlink_to(outside / "secret.py")
    (root / "dir").symlink_to(outside / "dir")
    (root / "up").symlink_to("..")
    (root / "config.py").symlink_to(".git/config")
    spec = _spec(root)
    assert [(d.id, d.reason, d.detail) for d in _drops(spec)] == [
        (f"{spec.label}:config.py", "symlink_outside_root", "-> .git/config"),
        (f"{spec.label}:dir", "symlink_outside_root", f"-> {outside}/dir"),
        (f"{spec.label}:file.py", "symlink_outside_root", f"-> {outside}/secret.py"),
        (f"{spec.label}:up", "symlink_outside_root", "-> ..")]
    assert _paths(spec) == ["a.py"]


def test_link_to_a_file_inside_the_root_is_read_under_its_link_name(tmp_path):
    _write(tmp_path, {"src/real.py": "r = 1\n"})
    (tmp_path / "alias.py").symlink_to("src/real.py")
    spec = _spec(tmp_path)
    assert _paths(spec) == ["alias.py", "src/real.py"]
    assert _read(spec, Unit("alias.py")).text == "r = 1\n"


def test_link_to_a_folder_inside_the_root_adds_no_copies(tmp_path):
    _write(tmp_path, {"src/real.py": "r"})
    (tmp_path / "a_link").symlink_to("src")
    assert _paths(_spec(tmp_path)) == ["src/real.py"]


def test_symlink_loops_end_and_broken_links_are_drops(tmp_path):
    _write(tmp_path, {"d/a.py": "a"})
    (tmp_path / "d" / "loop").symlink_to("..")
    (tmp_path / "self").symlink_to("self")
    (tmp_path / "ping").symlink_to("pong")
    (tmp_path / "pong").symlink_to("ping")
    (tmp_path / "dangling.py").symlink_to("nowhere.py")
    spec = _spec(tmp_path)
    assert [(d.id.split(":", 1)[1], d.reason, d.detail) for d in _drops(spec)] == [
        ("dangling.py", "broken_symlink", "No such file or directory"),
        ("ping", "broken_symlink", "Too many levels of symbolic links"),
        ("pong", "broken_symlink", "Too many levels of symbolic links"),
        ("self", "broken_symlink", "Too many levels of symbolic links")]
    assert _paths(spec) == ["d/a.py"]


NOBODY = 65534
"""uid and gid of ``nobody``, which the unlistable-folder test lists as when run as root."""


def _listed_unprivileged(spec: InputSpec) -> list:
    """``list_units`` of ``spec`` as a user without root's right to list every folder.

    CI runs as root, which lists a folder whatever its mode; there a forked child drops to
    ``nobody`` (no supplementary groups) before listing and sends the result back pickled.
    """
    if os.geteuid() != 0:
        return list(list_units(spec, _comp(spec)))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with os.fdopen(write, "wb") as out:
                pickle.dump(list(list_units(spec, _comp(spec))), out)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return pickle.loads(data)


def test_unlistable_folder_is_a_drop():
    # A folder of its own under the system temp dir: pytest's are closed to other users.
    root = tempfile.mkdtemp()
    try:
        os.chmod(root, 0o755)
        _write(pathlib.Path(root), {"a.py": "a", "locked/b.py": "b"})
        os.chmod(os.path.join(root, "locked"), 0)
        spec = _spec(root, include=("**/*.py",))
        out = _listed_unprivileged(spec)
    finally:
        os.chmod(os.path.join(root, "locked"), 0o755)
        shutil.rmtree(root)
    assert out == [Unit("a.py"), Drop("c", "read", "unlistable", f"{spec.label}:locked",
                                      spec.label, 0, "Permission denied")]


def test_path_too_long_to_open_is_a_drop_not_a_crash(tmp_path):
    # Paths longer than PATH_MAX fail with ENAMETOOLONG for anyone, root included.
    fd = os.open(tmp_path, os.O_RDONLY)
    for _ in range(20):
        os.mkdir("d" * 250, dir_fd=fd)
        fd, old = os.open("d" * 250, os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.close(fd)
    _write(tmp_path, {"a.py": "a"})
    out = list(list_units(_spec(tmp_path), _comp(_spec(tmp_path))))
    assert out[0] == Unit("a.py")
    assert [(type(o).__name__, o.detail) for o in out[1:]] == [("Drop", "File name too long")]


# ------------------------------------------------------------------------- file names

def test_undecodable_file_name_is_listed_printable_and_read(tmp_path):
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.py"), "wb") as f:
        f.write(b"x = 1\n")
    spec = _spec(tmp_path, name="r")
    (unit,) = _units(spec)
    assert (unit.path, unit.raw) == ("bad\\xff.py", b"bad\xff.py")
    record = _read(spec, unit)
    assert (record.path, record.text, record.id) == (
        "bad\\xff.py", "x = 1\n", record_id("r:bad\\xff.py", "x = 1\n"))


def test_undecodable_file_name_crosses_a_beam_pipeline(tmp_path):
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.py"), "wb") as f:
        f.write(b"x = 1\n")
    spec = _spec(tmp_path, name="r")
    comp = _comp(spec)
    with TestPipeline() as p:
        paths = (p | beam.Create([spec])
                 | "List" >> beam.FlatMap(list_units, comp)
                 | beam.Reshuffle()
                 | "Read" >> beam.FlatMap(lambda unit: read_unit(spec, comp, unit))
                 | beam.Map(lambda r: (r.path, r.text)))
        assert_that(paths, equal_to([("bad\\xff.py", "x = 1\n")]))


_DIRS = (b"", b"sub", b"s\xe9b", b"deep/er")
_NAMES = st.one_of(
    st.text(min_size=1, max_size=16).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(min_size=1, max_size=16),
).filter(lambda n: b"/" not in n and b"\0" not in n and n not in (b".", b"..", b".git",
                                                                  b".hg", b".svn")
         and n not in (b"sub", b"s\xe9b", b"deep"))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(st.tuples(st.sampled_from(_DIRS), _NAMES, st.binary(max_size=80)),
                      max_size=12, unique_by=lambda f: (f[0], f[1])))
def test_every_file_ends_as_exactly_one_record_or_drop(files):
    with tempfile.TemporaryDirectory() as tmp:
        root = os.fsencode(tmp)
        for folder, name, data in files:
            os.makedirs(os.path.join(root, folder), exist_ok=True)
            with open(os.path.join(root, folder, name), "wb") as f:
                f.write(data)
        spec = InputSpec(url=tmp, format="folder", max_bytes=60)
        out = _read_all(spec)
    assert len(out) == len(files)
    for item in out:
        strings = ((item.path, item.repo, item.id, item.text) if isinstance(item, Record)
                   else (item.id, item.detail, item.source))
        for s in strings:
            s.encode("utf-8")  # valid UTF-8: Beam's coders and JSON shards take it
    assert {o.reason for o in out if isinstance(o, Drop)} <= {"binary", "not_utf8",
                                                               "too_large"}


# ----------------------------------------------------------------------------- reading

def test_read_that_blocks_is_abandoned_as_read_timeout(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    # A plain open of a FIFO waits for a writer: the read must give up, not hang.
    assert read_bounded(lambda: open(tmp_path / "pipe", "rb"), 10, 0.2) == "read_timeout"
    # Let the abandoned thread finish: a writer arrives and leaves, the reader sees EOF
    # (best effort: a thread that has not reached its open yet just stays parked).
    with contextlib.suppress(OSError):
        os.close(os.open(tmp_path / "pipe", os.O_WRONLY | os.O_NONBLOCK))


def test_unexpected_error_in_a_read_is_raised_not_reported_as_a_timeout():
    def broken():
        raise KeyError("bug")
    with pytest.raises(KeyError):
        read_bounded(broken, 10, 30)


# ------------------------------------------------------------------- package metadata

def _metadata_spec(tmp_path) -> InputSpec:
    return InputSpec(url=str(tmp_path), format="package-metadata")


def test_package_metadata_description_is_the_document(tmp_path):
    spec = _metadata_spec(tmp_path)
    comp = ComponentSpec(name="t", kind="text", weight=1.0, inputs=(spec,))
    meta = (b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nLicense: MIT\n\n"
            b"A real description\nof the package.\n")
    record = metadata_record(meta, spec=spec, comp=comp, location="l")
    assert (record.text, record.repo, record.path, record.license, record.kind,
            record.source) == ("A real description\nof the package.", "demo", "demo==1.0",
                               "MIT", "text", spec.label)
    empty = metadata_record(b"Metadata-Version: 2.1\nName: x\n\n", spec=spec, comp=comp,
                            location="l")
    assert (empty.reason, empty.id) == ("no_text", "l")


def test_package_metadata_lists_only_metadata_files_and_reads_them(tmp_path):
    _write(tmp_path, {
        "demo-1.0.dist-info/METADATA": "Name: demo\nVersion: 1.0\n\nDemo package.\n",
        "demo-1.0.dist-info/RECORD": "x", "demo/__init__.py": "x",
        "bare-2.0.dist-info/METADATA": "Name: bare\nVersion: 2.0\n\n"})
    spec = _metadata_spec(tmp_path)
    out = _read_all(spec)
    assert [_summary(o) for o in out] == [
        ("Drop", f"{spec.label}:bare-2.0.dist-info/METADATA", "no_text"),
        ("Record", "demo==1.0", "Demo package.")]
