"""The archive source: tar and zip archives of repositories, streamed member by member."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import threading
import tracemalloc
import zipfile

import fsspec
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record
from pipelines.sources import archive, read_input
from pipelines.sources.unit import Unit

COMP = ComponentSpec(name="code", kind="code", inputs=(InputSpec(url="x", format="archive"),),
                     weight=0.5)
TOP = "owner-proj-0123abc/"
FILES = {"a.py": b"print('a')\n", "pkg/b.py": b"x = 1\n"}
MB = 1 << 20


def _tar_bytes(members, mode="w", **kw):
    """A tar of ``members``: name -> bytes (a regular file) or a ``TarInfo`` (anything)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode, **kw) as tar:
        for name, data in members.items():
            if isinstance(data, tarfile.TarInfo):
                tar.addfile(data)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _zip_bytes(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if isinstance(data, zipfile.ZipInfo):
                name, data = data, b"x"
            zf.writestr(name, data)
    return out.getvalue()


def _pack(name, members):
    """The bytes of an archive of ``members``, of the kind ``name`` ends with."""
    if name.endswith(".zip"):
        return _zip_bytes(members)
    if name.endswith((".tar.zst", ".tzst")):
        return zstandard.ZstdCompressor().compress(_tar_bytes(members))
    if name.endswith(".xz"):
        return _tar_bytes(members, "w:xz")
    # Level 1: bz2 then packs 100 kB blocks, so a cut stream still holds whole blocks.
    mode = next((m for s, m in ((".gz", "w:gz"), (".tgz", "w:gz"), (".bz2", "w:bz2"))
                 if name.endswith(s)), "")
    return _tar_bytes(members, mode, compresslevel=1) if mode else _tar_bytes(members)


def _archive(path, members):
    """Write ``members`` as the archive kind ``path``'s name says; returns its URL."""
    with fsspec.open(str(path), "wb") as f:
        f.write(_pack(str(path), members))
    return str(path)


def _read(url, **kw):
    return list(read_input(InputSpec(url=url, format="archive", **kw), COMP))


def _records(out):
    return {r.path: r for r in out if isinstance(r, Record)}


def _drops(out):
    return sorted((d.reason, d.id.rsplit("!", 1)[-1]) for d in out if isinstance(d, Drop))


def _info(name, kind, **fields):
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz",
                                    ".tar.zst", ".tzst", ".zip"])
def test_every_kind_of_archive_is_read(tmp_path, suffix):
    url = _archive(tmp_path / f"proj{suffix}", {TOP + k: v for k, v in FILES.items()})
    records = _records(_read(url))
    assert {p: r.text for p, r in records.items()} == {"a.py": "print('a')\n",
                                                       "pkg/b.py": "x = 1\n"}
    assert {(r.repo, r.kind, r.component) for r in records.values()} == {
        ("owner-proj-0123abc", "code", "code")}


def test_archive_without_one_top_folder_is_named_after_its_file(tmp_path):
    url = _archive(tmp_path / "proj-1.2.tar.xz", {"a.py": b"a\n", "src/b.py": b"b\n"})
    records = _records(_read(url))
    assert sorted(records) == ["a.py", "src/b.py"]
    assert {r.repo for r in records.values()} == {"proj-1.2"}


def test_file_beside_the_top_folder_keeps_every_path_whole(tmp_path):
    url = _archive(tmp_path / "p.tar", {"top/a.py": b"a\n", "README": b"r\n"})
    assert sorted(_records(_read(url))) == ["README", "top/a.py"]


def test_dot_slash_names_of_tar_c_dot_are_normalised(tmp_path):
    url = _archive(tmp_path / "p.tar", {"./": _info("./", tarfile.DIRTYPE),
                                        "./a.py": b"a\n", "./src//b.py": b"b\n"})
    records = _records(_read(url))
    assert [(p, r.repo) for p, r in sorted(records.items())] == [("a.py", "p"),
                                                                 ("src/b.py", "p")]


def _git_archive(tmp_path, fmt):
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "a.py").write_text("a = 1\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@example.com",
           "GIT_COMMITTER_NAME": "c", "GIT_COMMITTER_EMAIL": "c@example.com",
           "GIT_COMMITTER_DATE": "2024-01-02T03:04:06+00:00"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "m"]):
        subprocess.run(["git", "-C", str(repo), *args], env=env, check=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    out = tmp_path / f"proj.{fmt}"
    subprocess.run(["git", "-C", str(repo), "archive", f"--format={fmt}",
                    f"--prefix=owner-proj-{head[:7]}/", "-o", str(out), "HEAD"], check=True)
    return str(out), head


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_git_archive_commit_id_is_kept_as_revision(tmp_path, fmt):
    url, head = _git_archive(tmp_path, fmt)
    (record,) = _records(_read(url)).values()
    assert (record.path, record.repo) == ("a.py", f"owner-proj-{head[:7]}")
    assert (record.meta["revision"], record.meta["bytes"]) == (head, 6)
    assert record.meta["date"].startswith("2024-01-02T03:04:06")  # the commit time


def test_glob_of_memory_archives_is_one_unit_each(tmp_path):
    fs = fsspec.filesystem("memory")
    _archive("memory://arch/one.tar.gz", {"one/a.py": b"1\n"})
    _archive("memory://arch/two.zip", {"two/a.py": b"2\n"})
    fs.pipe("/arch/notes.txt", b"not matched")
    try:
        spec = InputSpec(url="memory://arch/*.*[pz]", format="archive")
        units = list(archive.list_units(spec, COMP))
        assert units == [Unit(path="memory:///arch/one.tar.gz"),
                         Unit(path="memory:///arch/two.zip")]
        assert [(r.repo, r.text) for r in _read(spec.url)] == [("one", "1\n"), ("two", "2\n")]
    finally:
        fs.rm("/arch", recursive=True)


def test_fifo_matched_by_the_glob_is_dropped_at_listing(tmp_path):
    _archive(tmp_path / "a.tar", {"a.py": b"a\n"})
    os.mkfifo(tmp_path / "b.tar")
    out = _read(str(tmp_path / "*.tar"))
    assert [r.path for r in out if isinstance(r, Record)] == ["a.py"]
    assert [(d.reason, d.id) for d in out if isinstance(d, Drop)] == [
        ("not_regular_file", str(tmp_path / "b.tar"))]


def test_missing_archive_is_one_unreadable_drop_and_an_empty_glob_nothing(tmp_path):
    (drop,) = _read(str(tmp_path / "missing.tar"))
    assert (drop.reason, drop.id) == ("unreadable", str(tmp_path / "missing.tar"))
    assert _read(str(tmp_path / "*.zip")) == []


def test_unsafe_links_and_special_tar_members_are_refused(tmp_path):
    members = {
        TOP: _info(TOP, tarfile.DIRTYPE),
        TOP + "ok.py": b"ok\n",
        "/etc/passwd": b"root\n",
        TOP + "../../escape.py": b"x\n",
        TOP + "sym.py": _info(TOP + "sym.py", tarfile.SYMTYPE, linkname="ok.py"),
        TOP + "hard.py": _info(TOP + "hard.py", tarfile.LNKTYPE, linkname=TOP + "ok.py"),
        TOP + "fifo": _info(TOP + "fifo", tarfile.FIFOTYPE),
        TOP + "tty": _info(TOP + "tty", tarfile.CHRTYPE),
    }
    url = _archive(tmp_path / "p.tar.gz", members)
    out = _read(url)
    assert sorted(_records(out)) == ["ok.py"]  # unsafe members do not decide the layout
    assert _drops(out) == sorted([
        ("unsafe_path", "/etc/passwd"), ("unsafe_path", TOP + "../../escape.py"),
        ("archive_link", TOP + "sym.py"), ("archive_link", TOP + "hard.py"),
        ("not_regular_file", TOP + "fifo"), ("not_regular_file", TOP + "tty")])
    assert {d.id.split("!")[0] for d in out if isinstance(d, Drop)} == {url}


def _zip_link(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def test_unsafe_links_and_encrypted_zip_members_are_refused(tmp_path):
    data = bytearray(_zip_bytes({"ok.py": b"ok\n", "..\\evil.py": b"x\n", "C:/win.py": b"x\n",
                                 "\\abs.py": b"x\n", "/abs.py": b"x\n",
                                 "link.py": _zip_link("link.py"), "secret.py": b"s\n"}))
    central = data.rindex(b"PK\x01\x02")  # the last member's directory entry: secret.py
    data[central + 8] |= 0x1  # "encrypted" flag; reading it would need a password
    (tmp_path / "p.zip").write_bytes(bytes(data))
    out = _read(str(tmp_path / "p.zip"))
    assert sorted(_records(out)) == ["ok.py"]
    assert _drops(out) == sorted([
        ("unsafe_path", "..\\evil.py"), ("unsafe_path", "C:/win.py"),
        ("unsafe_path", "\\abs.py"), ("unsafe_path", "/abs.py"),
        ("archive_link", "link.py"), ("encrypted", "secret.py")])


def test_tar_member_over_max_bytes_is_skipped_in_a_stream_with_flat_memory(tmp_path):
    members = {"p/big.txt": bytes(60 * MB), "p/after.py": b"after\n"}
    url = _archive(tmp_path / "p.tar.gz", members)
    del members
    tracemalloc.start()
    try:
        out = _read(url, max_bytes=MB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sorted(_records(out)) == ["after.py"]
    (drop,) = [d for d in out if isinstance(d, Drop)]
    assert (drop.reason, drop.bytes, drop.id) == ("too_large", 60 * MB, f"{url}!p/big.txt")
    assert peak < 8 * MB


def _zip_bomb(path, size):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("bomb.txt", "w") as f:
            for _ in range(size // MB):
                f.write(bytes(MB))
        zf.writestr("ok.py", b"ok\n")


def test_zip_member_declared_over_max_bytes_is_not_read(tmp_path):
    _zip_bomb(tmp_path / "b.zip", 60 * MB)
    out = _read(str(tmp_path / "b.zip"), max_bytes=MB)
    assert sorted(_records(out)) == ["ok.py"]
    assert [(d.reason, d.bytes) for d in out if isinstance(d, Drop)] == [("too_large", 60 * MB)]


def test_zip_member_whose_header_lies_about_its_size_is_cut_and_dropped(tmp_path):
    _zip_bomb(tmp_path / "b.zip", 60 * MB)
    data = bytearray((tmp_path / "b.zip").read_bytes())
    central = data.index(b"PK\x01\x02")  # bomb.txt's entry: claim 100 bytes
    data[central + 24:central + 28] = (100).to_bytes(4, "little")
    (tmp_path / "b.zip").write_bytes(bytes(data))
    tracemalloc.start()
    try:
        out = _read(str(tmp_path / "b.zip"), max_bytes=MB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sorted(_records(out)) == ["ok.py"]
    (drop,) = [d for d in out if isinstance(d, Drop)]
    assert drop.reason == "unreadable" and "CRC" in drop.detail
    assert peak < 8 * MB


def test_member_larger_than_the_cap_once_decompressed_is_too_large():
    assert archive._document(InputSpec(url="u", format="archive"), COMP, "u",
                             archive._Layout(repo="r", top="", chosen=frozenset()),
                             archive._Name("m", "m", False), {}, None, 10).reason == "too_large"


def _text_members(n):
    # Random hex: text that does not compress, so a cut lands among the members.
    return {f"p/m{i}.py": os.urandom(30000).hex().encode() for i in range(n)}


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar.zst", ".tar.bz2", ".tar.xz", ".tar"])
def test_truncated_tar_keeps_members_before_the_cut_and_one_truncated_drop(tmp_path, suffix):
    url = _archive(tmp_path / f"p{suffix}", _text_members(10))
    data = (tmp_path / f"p{suffix}").read_bytes()
    (tmp_path / f"p{suffix}").write_bytes(data[:len(data) * 6 // 10])
    out = _read(url)
    assert 3 <= len(_records(out)) < 10
    (drop,) = [d for d in out if isinstance(d, Drop)]
    assert (drop.reason, drop.id, drop.stage) == ("truncated", url, "read")
    assert url in drop.detail


def test_tar_cut_at_a_header_boundary_or_with_a_bad_header_is_truncated(tmp_path):
    data = _tar_bytes({"p/a.py": b"a\n", "p/b.py": b"b\n"})
    (tmp_path / "cut.tar").write_bytes(data[:1024])  # a's header and data, no end blocks
    bad = bytearray(data)
    bad[1024:1536] = b"\xff" * 512  # b's header
    (tmp_path / "bad.tar").write_bytes(bytes(bad))
    for name in ("cut.tar", "bad.tar"):
        out = _read(str(tmp_path / name))
        assert sorted(_records(out)) == ["a.py"]
        assert [d.reason for d in out if isinstance(d, Drop)] == ["truncated"]


def test_truncated_zip_is_one_unreadable_drop(tmp_path):
    url = _archive(tmp_path / "p.zip", _text_members(3))
    data = (tmp_path / "p.zip").read_bytes()
    (tmp_path / "p.zip").write_bytes(data[:len(data) // 2])
    (drop,) = _read(url)
    assert (drop.reason, drop.id) == ("unreadable", url) and url in drop.detail


@pytest.mark.parametrize("name", ["notes.tar.gz", "notes.tar.zst", "notes.tar", "notes.zip",
                                  "empty.tar.xz"])
def test_file_that_is_not_an_archive_is_one_unreadable_drop(tmp_path, name):
    (tmp_path / name).write_bytes(b"" if name.startswith("empty") else b"just some notes\n" * 50)
    (drop,) = _read(str(tmp_path / name))
    assert (drop.reason, drop.id) == ("unreadable", str(tmp_path / name))


def test_include_exclude_and_max_files_apply_to_stripped_paths(tmp_path):
    members = {f"{TOP}src/m{i}.py": f"v = {i}\n".encode() for i in range(10)}
    members.update({TOP + "README.md": b"r\n", TOP + "src/m_test.py": b"t\n"})
    url = _archive(tmp_path / "p.tar.gz", members)
    kw = dict(include=("src/*.py",), exclude=("*_test.py",), max_files=4)
    first = sorted(_records(_read(url, **kw)))
    assert len(first) == 4 and all(p.startswith("src/m") for p in first)
    assert sorted(_records(_read(url, **kw))) == first
    zipped = _archive(tmp_path / "p.zip", members)
    assert sorted(_records(_read(zipped, **kw))) == first


def test_archive_file_with_a_non_utf8_name_is_read(tmp_path):
    data = _pack("p.tar.gz", {"a.py": b"a\n"})
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.tar.gz"), "wb") as f:
        f.write(data)
    (record,) = _read(str(tmp_path / "*.tar.gz"))
    assert (record.path, record.repo) == ("a.py", "caf\\xe9")


def test_non_utf8_tar_member_name_gets_a_printable_path(tmp_path):
    name = b"p/caf\xe9.py".decode("utf-8", "surrogateescape")
    data = _tar_bytes({name: b"x = 1\n"}, format=tarfile.GNU_FORMAT, encoding="utf-8",
                      errors="surrogateescape")
    (tmp_path / "p.tar").write_bytes(data)
    out = _read(str(tmp_path / "p.tar"))
    assert [r.path for r in out] == ["caf\\xe9.py"]


def test_read_that_stalls_is_one_read_timeout_drop():
    release = threading.Event()

    def stalled():
        yield Drop("c", "read", "binary", "u!first")
        release.wait()
        yield Drop("c", "read", "binary", "u!never")

    timeout = Drop("c", "read", "read_timeout", "u")
    try:
        out = list(archive._timed(stalled(), 0.5, lambda: timeout))
    finally:
        release.set()
    assert [d.id for d in out] == ["u!first", "u"]


_NAMES = st.text(st.sampled_from("ab./\\:é -"), min_size=1, max_size=12)
_MEMBERS = st.dictionaries(_NAMES, st.binary(max_size=300), min_size=1, max_size=6)


def _regular_members(name, data):
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return len([i for i in zf.infolist() if not i.is_dir()])
    if name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return len([m for m in tar.getmembers() if not m.isdir()])


@settings(max_examples=60, deadline=None)
@given(members=_MEMBERS, suffix=st.sampled_from([".tar", ".tar.gz", ".tar.zst", ".zip"]),
       top=st.sampled_from(["", "top/"]))
def test_every_member_of_a_valid_archive_is_one_record_or_one_drop(members, suffix, top):
    url = f"memory://prop/a{suffix}"
    data = _pack(url, {top + k: v for k, v in members.items()})
    fsspec.filesystem("memory").pipe(url, data)
    out = _read(url, max_bytes=200)
    assert all(isinstance(o, (Record, Drop)) for o in out)
    assert all("!" in o.id for o in out if isinstance(o, Drop))  # no whole-archive drop
    assert len(out) == _regular_members(url, data)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=3000), cut=st.floats(0, 1),
       suffix=st.sampled_from(archive.SUFFIXES), members=_MEMBERS)
def test_random_or_cut_archive_bytes_never_raise(data, cut, suffix, members):
    url = f"memory://rand/a{suffix}"
    whole = _pack(url, members)
    fsspec.filesystem("memory").pipe(url, data if cut < 0.3 else whole[:int(len(whole) * cut)])
    out = _read(url)
    assert all(isinstance(o, (Record, Drop)) for o in out)
    assert len(out) <= len(members) + 1


def test_member_times_become_the_keep_rank_date(tmp_path):
    info = tarfile.TarInfo(TOP + "a.py")
    info.size, info.mtime = 3, 1_700_000_000
    with tarfile.open(tmp_path / "d.tar", "w") as tar:
        tar.addfile(info, io.BytesIO(b"x=1"))
    zipped = tmp_path / "d.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr(zipfile.ZipInfo("a.py", date_time=(2021, 3, 4, 5, 6, 8)), b"x=1")
    (tar_record,) = _records(_read(str(tmp_path / "d.tar"))).values()
    (zip_record,) = _records(_read(str(zipped))).values()
    assert tar_record.meta["date"] == "2023-11-14T22:13:20Z"
    assert zip_record.meta["date"] == "2021-03-04T05:06:08"  # zip keeps even seconds
