"""Walking a folder of files safely, shared by the file-based formats (``folder``,
``package-metadata``).

A folder is walked depth first with the names of each folder in byte order, so the listing
is the same on every run and streams: only the folders on the current path are held, never
the whole tree (``max_files`` keeps just its sample). Local folders (plain paths and
``file://``) are walked with ``os`` on bytes names; any other fsspec filesystem
(``memory://``, ``s3://``...) through its ``find``.

A checkout holds more than files, and each kind of thing is met on purpose:

- ``.git``, ``.hg`` and ``.svn`` (folders, or a submodule's ``.git`` file) are version
  control internals, not documents of the repository: skipped, never read or counted.
- Only regular files are read. FIFOs, sockets and devices are ``not_regular_file`` drops:
  opening a FIFO blocks until a writer comes, which would hang the build.
- A symlink is followed only within its root (the input folder, or with ``repos`` the
  repository's folder), and not into the version control internals. A link to a file is
  read under its link name, as a checkout shows it; exact dedup then merges it with its
  target. A link to a folder is not descended: that folder is listed under its own path
  anyway, so it would add only copies, and links then cannot make loops. Folders are also
  tracked by ``(st_dev, st_ino)``, so a loop made otherwise (a bind mount) ends too.
- A link out of the root is ``symlink_outside_root``; a dangling or looping one
  ``broken_symlink``; a folder that cannot be listed ``unlistable``; a file larger than
  ``max_bytes`` is ``too_large`` by its size, without being read; with ``repos``, a file
  at the top level, outside every repository, is ``not_in_repo``.

File names that are not valid UTF-8 are carried as ``Unit.raw`` (see ``unit.py``); every
string that leaves this module is valid UTF-8, so Beam's coders and JSON accept it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import heapq
import os
import posixpath
import stat
from collections.abc import Iterator, Sequence

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.licenses import is_license_file
from pipelines.sources.reading import open_regular, read_bounded
from pipelines.sources.unit import Unit, printable_name

VCS_NAMES = frozenset({b".git", b".hg", b".svn"})
"""Version control internals: never listed, never read."""


def source_name(url: str, name: str) -> str:
    """The repository/collection name recorded on documents: ``name``, or the URL's last
    path element."""
    return name or posixpath.basename(url.rstrip("/")) or url


def matches(rel: str, patterns: tuple[str, ...]) -> bool:
    """Whether a relative POSIX path matches one of the glob patterns.

    ``*`` also crosses ``/`` (``fnmatch``), and a leading ``**/`` also matches zero folders,
    as in gitignore: ``**/*.py`` matches ``a.py``.
    """
    return any(fnmatch.fnmatchcase(rel, p) or
               (p.startswith("**/") and fnmatch.fnmatchcase(rel, p[3:])) for p in patterns)


def selected(rel: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """Whether a file is read: it matches ``include`` and not ``exclude``."""
    return matches(rel, include) and not matches(rel, exclude)


def for_license_only(rel: str, include: tuple[str, ...]) -> bool:
    """Whether a file is a repository's root license file (``licenses.is_license_file``)
    that no ``include`` pattern names explicitly: such a file is read whatever ``include``
    says, so the repository's license is known, and is never a training document. A
    pattern names it when it matches it and its last part starts with the name, not a
    wildcard (``LICENSE``, ``LICEN*``, ``COPYING.md``); ``**`` or ``*.md`` do not."""
    return is_license_file(rel) and not any(
        matches(rel, (p,)) and p.rsplit("/", 1)[-1][:1] not in ("", "*", "?", "[")
        for p in include)


def _read_for(rel: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """Whether a repository's file is read: ``selected``, or a root license file."""
    return (matches(rel, include) or is_license_file(rel)) and not matches(rel, exclude)


def sample_key(rel: str) -> bytes:
    """Order of the ``max_files`` sample: the smallest sha256 of the relative path wins, so
    a cap spreads over the whole tree and picks the same files every run."""
    return hashlib.sha256(rel.encode("utf-8")).digest()


@dataclasses.dataclass(frozen=True, slots=True)
class _Found:
    """A path the walk met: a regular file to read, or why it cannot be read.

    Attributes:
        rel: path relative to the input URL, ``/``-separated bytes (for a non-local
            filesystem, its ``str`` name encoded with ``surrogatepass``).
        size: the file's size in bytes, when known.
        reason: empty for a regular file, else the drop reason.
        detail: what the drop log says beyond the reason (an error, a link's target).
        selectable: whether ``include``/``exclude`` decide on it; False for what is not a
            file of a repository (an unlistable folder, a top-level entry with ``repos``),
            which is always reported.
    """

    rel: bytes
    size: int = 0
    reason: str = ""
    detail: str = ""
    selectable: bool = True


def _join(parent: bytes, name: bytes) -> bytes:
    return parent + b"/" + name if parent else name


def _why(err: OSError) -> str:
    return err.strerror or type(err).__name__


# ------------------------------------------------------------------------- local folders

_FOLDER = _Found(b"", reason="folder")
"""``_local_entry``'s answer for a real folder: descend into it."""


def _local_names(path: bytes, visited: set[tuple[int, int]]) -> list[bytes]:
    """The names in a local folder, sorted, without version control internals; empty when
    the folder was listed before (a loop)."""
    st = os.stat(path)
    if (st.st_dev, st.st_ino) in visited:
        return []
    visited.add((st.st_dev, st.st_ino))
    with os.scandir(path) as entries:
        return sorted(e.name for e in entries if e.name not in VCS_NAMES)


def _inside(target: bytes, fence: bytes) -> bool:
    """Whether a resolved path lies in the folder ``fence`` and outside its VCS internals."""
    rel = os.path.relpath(target, fence)
    parts = rel.split(b"/")
    return parts[0] != b".." and not VCS_NAMES.intersection(parts)


def _link_target(path: bytes) -> str:
    try:
        return "-> " + printable_name(os.readlink(path))[0]
    except OSError as err:
        return _why(err)


def _local_entry(path: bytes, rel: bytes, fence: bytes) -> _Found | None:
    """What one local path is: a file, ``_FOLDER``, a drop, or None for a link to a
    folder inside the root (listed under its own path)."""
    try:
        st = os.lstat(path)
    except OSError as err:  # vanished since the folder was listed
        return _Found(rel, reason="unreadable", detail=_why(err))
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError as err:  # dangling (ENOENT) or a loop of links (ELOOP)
            return _Found(rel, reason="broken_symlink", detail=_why(err))
        if not _inside(os.path.realpath(path), fence):
            return _Found(rel, reason="symlink_outside_root", detail=_link_target(path))
        if stat.S_ISDIR(st.st_mode):
            return None
    elif stat.S_ISDIR(st.st_mode):
        return _FOLDER
    if stat.S_ISREG(st.st_mode):
        return _Found(rel, size=st.st_size)
    return _Found(rel, reason="not_regular_file", detail=stat.filemode(st.st_mode))


def _local_tree(root: bytes, top: bytes) -> Iterator[_Found]:
    """Everything under the local folder ``root/top``, depth first, names in byte order;
    symlinks are fenced to ``root/top``."""
    fence = os.path.realpath(_join(root, top) if top else root)
    visited: set[tuple[int, int]] = set()
    stack: list[tuple[bytes, Iterator[bytes]]] = []

    def enter(rel: bytes) -> _Found | None:
        try:
            names = _local_names(os.path.join(root, rel) if rel else root, visited)
        except OSError as err:
            return _Found(rel, reason="unlistable", detail=_why(err), selectable=False)
        stack.append((rel, iter(names)))
        return None

    if problem := enter(top):
        yield problem
    while stack:
        folder, names = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
            continue
        rel = _join(folder, name)
        found = _local_entry(os.path.join(root, rel), rel, fence)
        if found is _FOLDER:
            if problem := enter(rel):
                yield problem
        elif found is not None:
            yield found


def _local_repos(root: bytes) -> Iterator[_Found]:
    """Every top-level folder of ``root`` walked as a repository of its own; whatever else
    is at the top level is reported."""
    fence = os.path.realpath(root)
    try:
        names = _local_names(root, set())
    except OSError as err:
        yield _Found(b"", reason="unlistable", detail=_why(err), selectable=False)
        return
    for name in names:
        found = _local_entry(os.path.join(root, name), name, fence)
        if found is _FOLDER:
            yield from _local_tree(root, name)
        elif found is not None:
            yield dataclasses.replace(found, reason=found.reason or "not_in_repo",
                                      selectable=False)


# --------------------------------------------------------------- other fsspec filesystems

def _fs_tree(fs: fsspec.AbstractFileSystem, root: str, repos: bool) -> Iterator[_Found]:
    """Everything under ``root`` on a filesystem that is not local, from one ``find``
    (which such filesystems answer in one listing call per folder or one in all)."""
    try:
        if not fs.isdir(root):
            yield _Found(b"", reason="unlistable", detail="not a folder", selectable=False)
            return
        infos = fs.find(root, withdirs=False, detail=True)
    except OSError as err:
        yield _Found(b"", reason="unlistable", detail=_why(err), selectable=False)
        return
    found = []
    for path, info in infos.items():
        rel = posixpath.relpath(path, root).encode("utf-8", "surrogatepass")
        parts = rel.split(b"/")
        if VCS_NAMES.intersection(parts) or info.get("type") == "directory":
            continue
        in_repo = not repos or len(parts) > 1
        if info.get("type") != "file":
            reason, detail = "not_regular_file", str(info.get("type"))
        else:
            reason, detail = ("" if in_repo else "not_in_repo"), ""
        found.append(_Found(rel, size=int(info.get("size") or 0), reason=reason,
                            detail=detail, selectable=in_repo))
    yield from sorted(found, key=lambda f: f.rel.split(b"/"))


# ------------------------------------------------------------------------------ units

def _walk(url: str, repos: bool) -> Iterator[_Found]:
    fs, root = fsspec.core.url_to_fs(url)
    if not isinstance(fs, LocalFileSystem):
        return _fs_tree(fs, root.rstrip("/"), repos)
    local = os.fsencode(root)
    return _local_repos(local) if repos else _local_tree(local, b"")


def _in_repo(rel: str, repos: bool) -> str:
    """The path that globs see: relative to the repository."""
    return rel.split("/", 1)[1] if repos else rel


def list_files(spec: InputSpec, comp: ComponentSpec, *, include: tuple[str, ...],
               repos: bool, licenses: bool = False) -> Iterator[Unit | Drop]:
    """The files under ``spec.url`` to read, and drops for what cannot be read.

    Args:
        spec: the input: ``url``, ``exclude``, ``max_files`` (a deterministic sample by
            ``sample_key`` of the path relative to ``url``, over everything listed) and
            ``max_bytes`` (larger files are dropped by their size).
        comp: the component, whose name the drops carry.
        include: glob patterns a file must match (``spec.include`` for ``folder``).
        repos: every top-level folder is a repository: its files' ``Unit.repo`` is the
            folder's name, and the globs see paths relative to it.
        licenses: also list each repository's root license files, whatever ``include``
            says, outside the ``max_files`` sample (``for_license_only``).

    Yields:
        Units (``path`` relative to ``url``) in listing order (depth first, names in byte
        order), and ``read`` drops whose id is ``"{spec.label}:{path}"``.
    """
    pick = _read_for if licenses else selected
    found: Iterator[_Found] = (
        f for f in _walk(spec.url, repos)
        if not f.selectable or pick(_in_repo(printable_name(f.rel)[0], repos), include,
                                    spec.exclude))
    if spec.max_files is not None:
        aside: list[_Found] = []  # license files, read outside the sample

        def sampled() -> Iterator[_Found]:
            for f in found:
                if f.selectable and licenses and for_license_only(
                        _in_repo(printable_name(f.rel)[0], repos), include):
                    aside.append(f)
                else:
                    yield f
        sample = heapq.nsmallest(spec.max_files, sampled(),
                                 key=lambda f: sample_key(printable_name(f.rel)[0]))
        found = iter(sorted(sample + aside, key=lambda f: f.rel.split(b"/")))
    for f in found:
        path, raw = printable_name(f.rel)
        reason = f.reason or ("too_large" if f.size > spec.max_bytes else "")
        if reason:
            yield Drop(comp.name, "read", reason, f"{spec.label}:{path or '.'}", spec.label,
                       f.size, f.detail)
        else:
            repo = path.split("/", 1)[0] if repos else ""
            yield Unit(path=path, raw=raw, repo=repo)


def read_file(spec: InputSpec, unit: Unit) -> bytes | str:
    """The bytes of a listed file, or the drop reason (see ``reading.read_bounded``).

    A local file is opened by its real bytes name through ``open_regular`` (never blocks
    on a FIFO that replaced it since listing); on other filesystems ``unit.raw`` is the
    ``surrogatepass`` encoding of the filesystem's own name.
    """
    fs, root = fsspec.core.url_to_fs(spec.url)
    if isinstance(fs, LocalFileSystem):
        opener = functools.partial(open_regular, unit.os_path(root))
    else:
        name = unit.raw.decode("utf-8", "surrogatepass") if unit.raw else unit.path
        opener = functools.partial(fs.open, posixpath.join(root.rstrip("/"), name), "rb")
    return read_bounded(opener, spec.max_bytes, spec.timeout_s)


def chosen(paths: Sequence[str], spec: InputSpec) -> list[int]:
    """Indices of the paths an input reads, in the order given.

    Args:
        paths: relative paths inside one repository (printable).
        spec: the input: a path must match one of ``include`` and none of ``exclude``; of
            those, ``max_files`` keeps a sample by ``listing.sample_key`` (the same files
            every run, spread over the whole tree). Root license files are read too,
            outside the sample (``for_license_only``).
    """
    kept = [i for i, p in enumerate(paths) if _read_for(p, spec.include, spec.exclude)]
    aside = [i for i in kept if for_license_only(paths[i], spec.include)]
    kept = [i for i in kept if i not in set(aside)]
    if spec.max_files is not None and len(kept) > spec.max_files:
        kept = heapq.nsmallest(spec.max_files, kept, key=lambda i: (sample_key(paths[i]), i))
    return sorted(kept + aside)
