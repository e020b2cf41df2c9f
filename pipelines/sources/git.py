"""A git repository's committed tree: the files of one commit, never the working tree.

``url`` is a local repository (a path or ``file://`` URL; a bare repository too) and
``ref`` the commit, branch or tag to read. Everything comes from git's object store through
plumbing commands: ``rev-parse`` resolves the ref to a commit, ``ls-tree -r -z --long``
lists its tree with every blob's size (so a blob over ``max_bytes`` is dropped as
``too_large`` without being read), and one ``cat-file --batch`` process per unit streams
the blobs. Uncommitted edits and untracked files are therefore never seen, and a unit costs
a few processes, not one per file.

``include``, ``exclude`` and ``max_files`` select paths as for a folder (``chosen``,
which the ``archive`` format shares). A big repository is split into units, each a slice
``[start, stop)`` of the sorted, filtered listing holding at most ``FILES_PER_UNIT`` files
and about ``split_bytes`` bytes, so many workers share it. A unit carries the resolved
commit id as its ``path``, so every worker lists the same tree even if the branch moves
meanwhile; re-listing a tree is fast.

Entries that are not documents: a submodule is a commit id pointing into another
repository, whose files are not in this one (list that repository as an input of its
own), so it is skipped uncounted, as directories are; a symbolic link is dropped
(``symlink``). Records keep the blob id (``blob``), the commit (``revision``) and its
committer date (``date``, ISO 8601 with offset, which dedup's keep-rank reads) in ``meta``.
A path that is not a repository, a ref that names no commit, a git failure and a git
command running past ``timeout_s`` are drops (``not_a_repository``, ``bad_ref``,
``unreadable``, ``read_timeout``) naming the URL, never exceptions.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record
from pipelines.sources.document import file_record
from pipelines.sources.listing import chosen, source_name
from pipelines.sources.unit import Unit, printable_name

FILES_PER_UNIT = 1000
"""Most files in one unit of a repository (besides ``InputSpec.split_bytes``)."""

_SYMLINK = b"120000"
_SUBMODULE = b"commit"


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    """A file of the tree: printable path, mode, blob id and size in bytes."""

    path: str
    mode: bytes
    blob: str
    size: int


class _GitError(Exception):
    """A git command failed; ``reason`` is the drop reason, the message its detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def _local_path(url: str) -> str:
    return url.removeprefix("file://")


def _environment(path: str) -> dict[str, str]:
    """The environment git runs in: none of the caller's ``GIT_*`` settings (a worker
    started from a git hook inherits ``GIT_DIR``), no search for a repository above
    ``path`` (a folder inside some other checkout is not a repository), no credential
    prompt and no lazy fetch of a partial clone's missing blobs, either of which could
    block."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CEILING_DIRECTORIES"] = os.path.dirname(os.path.realpath(path))
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_NO_LAZY_FETCH"] = "1"
    return env


def _git(path: str, args: Sequence[str], timeout_s: float, reason: str = "unreadable") -> bytes:
    """stdout of ``git -C path args``; raises ``_GitError(reason)`` when git fails, or
    ``_GitError("read_timeout")`` when it runs past ``timeout_s``."""
    command = ["git", "-C", path, *args]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s, env=_environment(path), check=False)
    except subprocess.TimeoutExpired:
        raise _GitError("read_timeout", f"git {args[0]} ran past {timeout_s:g} s") from None
    except OSError as err:  # no git executable
        raise _GitError(reason, f"git {args[0]}: {err}") from None
    if done.returncode:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _GitError(reason, f"git {args[0]}: {message[-1] if message else done.returncode}")
    return done.stdout


def _commit(path: str, spec: InputSpec) -> str:
    """The commit id ``spec.ref`` names in the repository at ``path``."""
    _git(path, ["rev-parse", "--git-dir"], spec.timeout_s, "not_a_repository")
    if spec.ref.startswith("-"):  # would be read as an option
        raise _GitError("bad_ref", f"no commit {spec.ref!r}")
    out = _git(path, ["rev-parse", "--verify", f"{spec.ref}^{{commit}}"], spec.timeout_s,
               "bad_ref")
    return out.decode().strip()


def _tree(path: str, commit: str, spec: InputSpec) -> list[_Entry]:
    """The files of ``commit`` the input reads (submodules left out), sorted by path."""
    out = _git(path, ["ls-tree", "-r", "-z", "--long", commit], spec.timeout_s)
    entries = []
    for line in out.split(b"\0"):
        if not line:
            continue
        info, _, name = line.partition(b"\t")
        try:
            mode, kind, blob, size = info.split()
        except ValueError:
            raise _GitError("unreadable", f"git ls-tree printed {line[:200]!r}") from None
        if kind == _SUBMODULE:
            continue
        entries.append(_Entry(printable_name(name)[0], mode, blob.decode(),
                              int(size) if size.isdigit() else 0))
    entries = [entries[i] for i in chosen([e.path for e in entries], spec)]
    return sorted(entries, key=lambda e: e.path)


def _unfit(entry: _Entry, spec: InputSpec) -> str:
    """Why an entry is not read (``symlink``, ``too_large``), or ``""``."""
    if entry.mode == _SYMLINK:
        return "symlink"
    return "too_large" if entry.size > spec.max_bytes else ""


def _slices(sizes: Sequence[int], split_bytes: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` ranges covering ``sizes`` in order, each with at most
    ``FILES_PER_UNIT`` items and at most ``split_bytes`` in all (or a single item)."""
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and (i - start >= FILES_PER_UNIT or total + size > split_bytes):
            yield start, i
            start, total = i, 0
        total += size
    if start < len(sizes):
        yield start, len(sizes)


def _location(spec: InputSpec, commit: str, path: str) -> str:
    return f"{spec.url}@{commit}:{path}"


def list_units(spec: InputSpec, comp: ComponentSpec) -> Iterator[Unit | Drop]:
    """Slices of the commit's sorted file listing, and drops for the symbolic links and
    the blobs over ``max_bytes`` in it (or one drop when the repository or ref is bad)."""
    path = _local_path(spec.url)
    try:
        commit = _commit(path, spec)
        entries = _tree(path, commit, spec)
    except _GitError as err:
        yield Drop(comp.name, "read", err.reason, spec.url, spec.label, 0,
                   f"{spec.url}@{spec.ref}: {err}")
        return
    readable = []
    for entry in entries:
        reason = _unfit(entry, spec)
        if reason:
            yield Drop(comp.name, "read", reason, _location(spec, commit, entry.path),
                       spec.label, entry.size)
        else:
            readable.append(entry)
    for start, stop in _slices([e.size for e in readable], spec.split_bytes):
        yield Unit(path=commit, start=start, stop=stop)


def _blob(proc: subprocess.Popen, blob: str) -> bytes | str:
    """One blob's content from a running ``cat-file --batch``, or ``unreadable`` when the
    repository lacks it (the process stays usable); raises ``OSError``/``ValueError`` when
    the stream breaks."""
    proc.stdin.write(blob.encode() + b"\n")
    proc.stdin.flush()
    header = proc.stdout.readline().split()
    if header[1:] == [b"missing"]:
        return "unreadable"
    if len(header) != 3:
        raise OSError(f"cat-file answered {header!r}")
    size = int(header[2])
    data = proc.stdout.read(size + 1)  # the content and its newline
    if len(data) != size + 1:
        raise OSError("cat-file output ended early")
    return data[:size]


def _blobs(path: str, blobs: Sequence[str], timeout_s: float) -> Iterator[bytes | str]:
    """The content of each blob in order, read through one ``git cat-file --batch``, or a
    drop reason: ``unreadable`` for a missing blob; once the process breaks, or a blob
    takes more than ``timeout_s`` (the process is then killed), that blob and every later
    one get ``unreadable`` / ``read_timeout``."""
    with subprocess.Popen(["git", "-C", path, "cat-file", "--batch"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          env=_environment(path)) as proc:
        failed = ""
        try:
            for blob in blobs:
                if failed:
                    yield failed
                    continue
                expired = threading.Event()
                timer = threading.Timer(timeout_s, lambda e=expired: (e.set(), proc.kill()))
                timer.start()
                try:
                    result = _blob(proc, blob)
                except (OSError, ValueError):
                    failed = result = "read_timeout" if expired.is_set() else "unreadable"
                finally:
                    timer.cancel()
                yield result
        finally:
            proc.kill()
            try:
                proc.stdin.close()
            except OSError:  # a write the killed process never took is lost, as it should be
                pass


def read_unit(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop]:
    """The files of one slice of the commit's listing, as records or drops."""
    path, commit = _local_path(spec.url), unit.path
    repo = source_name(spec.url, spec.name)
    try:
        entries = [e for e in _tree(path, commit, spec) if not _unfit(e, spec)]
        date = _git(path, ["show", "-s", "--no-show-signature", "--format=%cI", commit, "--"],
                    spec.timeout_s).decode().strip()
    except _GitError as err:
        yield Drop(comp.name, "read", err.reason, f"{spec.url}@{unit.location}", spec.label,
                   0, f"{spec.url}@{commit}: {err}")
        return
    entries = entries[unit.start:unit.stop]
    for entry, data in zip(entries, _blobs(path, [e.blob for e in entries], spec.timeout_s)):
        location = _location(spec, commit, entry.path)
        if isinstance(data, str):
            yield Drop(comp.name, "read", data, location, spec.label, entry.size,
                       f"blob {entry.blob}")
        else:
            yield file_record(data, spec=spec, comp=comp, repo=repo, path=entry.path,
                              location=location,
                              meta={"blob": entry.blob, "revision": commit, "date": date})
