"""Tar and zip archives of repositories, streamed member by member.

``url`` is an archive (``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``,
``.tar.zst``/``.tzst``, ``.zip``) or a glob of them, listed by ``files.matching_files``
(a FIFO that matches is ``not_regular_file``, never opened); the name says which kind an
archive is. An archive is one unit (a compressed stream cannot be split) and holds one
repository in GitHub's download layout: when every member sits under one top folder
(``owner-repo-<sha>/``), that folder is the repository's name and is stripped from paths;
otherwise the repository is named after the archive file without its extensions.
``include``, ``exclude`` and ``max_files`` apply to the stripped paths. The commit id that
``git archive`` stores (a pax global header's ``comment`` in a tar, the archive comment in
a zip) is kept as ``meta["revision"]``, and each member's modification time (``git archive``
writes the commit time there) as ``meta["date"]`` for the dedup keep-rank.

Nothing is extracted to disk and no member is read whole when it is too large: tar is read
as a stream through ``compression.open_decompressed``, which notices a cut stream, and zip
through its central directory on the seekable file, every member capped at ``max_bytes``.
The top folder and a ``max_files`` sample need every name before the first document, so a
tar is streamed twice: once for its headers (the data is skipped, but still decompressed),
once for the documents. That doubles decompression, the cheap part of a build, and keeps
memory flat.

A member is refused when its path is absolute or climbs out with ``..`` (in a zip also
through backslashes or a drive letter: ``unsafe_path``), when it is a symbolic or hard link
(``archive_link``), or a device or FIFO (``not_regular_file``); one larger than
``max_bytes`` is ``too_large`` (by its header when it says so, else cut at the cap); an
encrypted zip member is ``encrypted``; a zip member whose data is damaged is ``unreadable``
(zipfile stops at the size the header declares, so a header that lies about a bomb's size
shows as a bad CRC, never as a big read). Directories are not documents. A tar whose stream
or headers break keeps the members before the damage and ends with one ``truncated`` drop;
an archive that cannot be opened at all (not an archive, a zip that lost its central
directory) is one ``unreadable`` drop. Reading runs in a thread that is abandoned, with one
``read_timeout`` drop, when no member is done within ``timeout_s``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import posixpath
import queue
import re
import stat
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record
from pipelines.sources.compression import STREAM_ERRORS, compression_of, open_decompressed
from pipelines.sources.document import file_record
from pipelines.sources.files import matching_files, open_file
from pipelines.sources.listing import chosen
from pipelines.sources.reading import NotRegularFile, read_capped
from pipelines.sources.unit import Unit, printable_name

SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tar.zstd", ".tzst",
            ".tar", ".zip")
"""Archive file name endings; what is left of the name when one is cut off names a
repository that has no top folder."""

_ERRORS = (*STREAM_ERRORS, tarfile.TarError, zipfile.BadZipFile,
           NotImplementedError, RuntimeError)
"""What reading a damaged archive can raise: the decompressors' errors, tarfile's and
zipfile's (an unsupported zip method is ``NotImplementedError``, a password
``RuntimeError``)."""

_REVISION = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_DRIVE = re.compile(r"[A-Za-z]:")


@dataclasses.dataclass(frozen=True, slots=True)
class _Name:
    """A member's name as the drop log shows it, its safe relative path (None when it is
    unsafe) and whether it is a directory."""

    name: str
    path: str | None
    is_dir: bool


@dataclasses.dataclass(frozen=True, slots=True)
class _Layout:
    """Where an archive's members go: the repository name, the top folder stripped from
    paths (``""`` for none) and the indices of the members the input reads."""

    repo: str
    top: str
    chosen: frozenset[int]

    def path(self, name: _Name) -> str:
        """A member's path in the repository (its name when it is unsafe)."""
        return (name.path or name.name).removeprefix(self.top)


def _safe_path(name: str, windows: bool) -> str | None:
    """``name`` as a relative POSIX path without ``.`` or empty parts, or None when it is
    absolute, has a ``..`` part, or is empty. ``windows``: backslashes separate too, and a
    drive letter makes a path absolute (zip, where Windows tools write such names)."""
    parts = re.split(r"[/\\]" if windows else "/", name)
    absolute = (len(parts) > 1 and not parts[0]) or (windows and _DRIVE.match(name))
    if absolute or ".." in parts:
        return None
    return "/".join(p for p in parts if p not in ("", ".")) or None


def _repo_name(url: str) -> str:
    base = posixpath.basename(url)
    suffix = next((s for s in SUFFIXES if base.lower().endswith(s)), "")
    return base[:len(base) - len(suffix)] if suffix else posixpath.splitext(base)[0]


def _top_folder(names: Sequence[_Name]) -> str:
    """The one folder every member sits under, or ``""`` when there is none. Unsafe
    members are refused anyway, so they do not decide the layout."""
    top = ""
    for name in names:
        if name.path is None:
            continue  # "./" (the root itself), or an unsafe name
        head, inside, _ = name.path.partition("/")
        if (not inside and not name.is_dir) or (top and head != top):
            return ""
        top = head
    return top


def _layout(names: Sequence[_Name], url: str, spec: InputSpec) -> _Layout:
    """Repository name, top folder and chosen members of an archive with these members."""
    top = _top_folder(names)
    everything = _Layout(repo=top or _repo_name(url), top=top + "/" if top else "",
                         chosen=frozenset())
    files = [i for i, n in enumerate(names) if not n.is_dir]
    picked = chosen([everything.path(names[i]) for i in files], spec)
    return dataclasses.replace(everything, chosen=frozenset(files[k] for k in picked))


def _revision(comment: str | bytes | None) -> dict[str, str]:
    text = comment.decode("ascii", "replace") if isinstance(comment, bytes) else comment or ""
    return {"revision": text.strip()} if _REVISION.fullmatch(text.strip()) else {}


class _Header(tarfile.TarInfo):
    """A tar header that records why the headers stopped: tarfile ends iteration quietly
    at a bad or cut header past the first one, which would lose the rest unnoticed. Only a
    zero block (``EOFHeaderError``) is a proper end."""

    @classmethod
    def fromtarfile(cls, archive: tarfile.TarFile) -> tarfile.TarInfo:
        try:
            return super().fromtarfile(archive)
        except tarfile.HeaderError as err:
            archive.codemix_stop = err  # type: ignore[attr-defined]
            raise


def _open_tar(raw, url: str) -> tarfile.TarFile:
    return tarfile.open(fileobj=open_decompressed(raw, compression_of(url)), mode="r|",
                        tarinfo=_Header, encoding="utf-8", errors="surrogateescape")


def _members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The members of a tar opened as a stream; raises ``tarfile.ReadError`` when the
    headers end in damage rather than in the end-of-archive block."""
    while (member := archive.next()) is not None:
        archive.members.clear()  # a stream needs no index of past headers: memory stays flat
        yield member
    stop = getattr(archive, "codemix_stop", None)
    if stop is not None and not isinstance(stop, tarfile.EOFHeaderError):
        raise tarfile.ReadError(f"bad header at byte {archive.offset}: {stop}")


def _tar_name(member: tarfile.TarInfo) -> _Name:
    name = printable_name(member.name.encode("utf-8", "surrogateescape"))[0]
    return _Name(name, _safe_path(name, windows=False), member.isdir())


def _tar_refusal(member: tarfile.TarInfo) -> str:
    if member.issym() or member.islnk():
        return "archive_link"
    return "" if member.isreg() else "not_regular_file"


def _tar_date(member: tarfile.TarInfo) -> dict[str, str]:
    """``{"date": ...}`` from a member's mtime (``git archive`` writes the commit time
    there), for the dedup keep-rank; nothing for a zero or absurd mtime."""
    try:
        moment = datetime.datetime.fromtimestamp(int(member.mtime), datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return {}
    return {"date": moment.strftime("%Y-%m-%dT%H:%M:%SZ")} if member.mtime > 0 else {}


def _zip_date(info: zipfile.ZipInfo) -> dict[str, str]:
    """``{"date": ...}`` from a zip member's timestamp (no zone: read as UTC)."""
    try:
        return {"date": datetime.datetime(*info.date_time).strftime("%Y-%m-%dT%H:%M:%S")}
    except (TypeError, ValueError):
        return {}


def _tar(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop | None]:
    """The documents of a tar, and None after each header of the first pass (progress)."""
    url = unit.path
    names: list[_Name] = []
    meta: dict[str, str] = {}
    try:
        with open_file(unit) as raw, _open_tar(raw, url) as archive:
            meta = _revision(archive.pax_headers.get("comment"))
            for member in _members(archive):
                names.append(_tar_name(member))
                yield None
    except _ERRORS:
        pass  # the second pass meets the same damage at the same place and reports it
    layout = _layout(names, url, spec)
    headers, opened = 0, False
    try:
        with open_file(unit) as raw, _open_tar(raw, url) as archive:
            opened = True
            for index, member in enumerate(_members(archive)):
                headers = index + 1
                if index not in layout.chosen:  # directories never are
                    continue
                name = names[index]
                refusal = _refusal(spec, name, _tar_refusal(member), member.size)
                if refusal:
                    yield _refused(spec, comp, url, name, refusal, member.size)
                    continue
                # A stream error here loses this member with the rest: `truncated` below.
                data = read_capped(archive.extractfile(member), spec.max_bytes)
                yield _document(spec, comp, url, layout, name, {**meta, **_tar_date(member)},
                                data, member.size)
    except NotRegularFile as err:  # a FIFO replaced the file since it was listed
        yield _whole(spec, comp, unit, "not_regular_file", err)
    except _ERRORS as err:
        yield _whole(spec, comp, unit, "truncated" if opened else "unreadable", err,
                     f" (after {headers} headers)")


def _zip_name(info: zipfile.ZipInfo) -> _Name:
    is_dir = info.is_dir() or stat.S_ISDIR(info.external_attr >> 16)
    return _Name(info.filename, _safe_path(info.filename, windows=True), is_dir)


def _zip_refusal(info: zipfile.ZipInfo) -> str:
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 for archives made on Windows
    if kind == stat.S_IFLNK:
        return "archive_link"
    if kind not in (0, stat.S_IFREG):
        return "not_regular_file"
    return "encrypted" if info.flag_bits & 0x1 else ""


def _zip(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop | None]:
    """The documents of a zip; a member whose data is damaged is that member's drop."""
    url = unit.path
    try:
        with open_file(unit) as raw, zipfile.ZipFile(raw) as archive:
            infos = archive.infolist()
            names = [_zip_name(info) for info in infos]
            layout = _layout(names, url, spec)
            meta = _revision(archive.comment)
            for index, (info, name) in enumerate(zip(infos, names)):
                if index not in layout.chosen:  # directories never are
                    continue
                refusal = _refusal(spec, name, _zip_refusal(info), info.file_size)
                if refusal:
                    yield _refused(spec, comp, url, name, refusal, info.file_size)
                    continue
                try:
                    with archive.open(info) as member:
                        data = read_capped(member, spec.max_bytes)
                except _ERRORS as err:
                    yield _refused(spec, comp, url, name, "unreadable", info.file_size,
                                   f"{type(err).__name__}: {err}")
                    continue
                yield _document(spec, comp, url, layout, name, {**meta, **_zip_date(info)},
                                data, info.file_size)
    except NotRegularFile as err:  # a FIFO replaced the file since it was listed
        yield _whole(spec, comp, unit, "not_regular_file", err)
    except (*_ERRORS, UnicodeDecodeError) as err:  # UnicodeDecodeError: a bad UTF-8 name
        yield _whole(spec, comp, unit, "unreadable", err)


def _whole(spec: InputSpec, comp: ComponentSpec, unit: Unit, reason: str, err: Exception,
           where: str = "") -> Drop:
    """The drop for an archive that cannot be read, or the rest of one after damage."""
    return Drop(comp.name, "read", reason, unit.path, spec.label, 0,
                f"{unit.path}: {type(err).__name__}: {err}{where}")


def _refusal(spec: InputSpec, name: _Name, kind_refusal: str, size: int) -> str:
    """Why a member is not read at all (its path, its type, its declared size), or ``""``."""
    if name.path is None:
        return "unsafe_path"
    return kind_refusal or ("too_large" if size > spec.max_bytes else "")


def _refused(spec: InputSpec, comp: ComponentSpec, url: str, name: _Name, reason: str,
             size: int, detail: str = "") -> Drop:
    return Drop(comp.name, "read", reason, f"{url}!{name.name}", spec.label, size, detail)


def _document(spec: InputSpec, comp: ComponentSpec, url: str, layout: _Layout, name: _Name,
              meta: dict[str, str], data: bytes | None, size: int) -> Record | Drop:
    """A member's data (None: more than ``max_bytes`` decompressed) as a record or drop."""
    if data is None:
        return _refused(spec, comp, url, name, "too_large", size,
                        f"more than {spec.max_bytes} bytes decompressed")
    return file_record(data, spec=spec, comp=comp, repo=layout.repo, path=layout.path(name),
                       location=f"{url}!{name.name}", meta=meta)


def _timed(items: Iterator[Record | Drop | None], timeout_s: float,
           on_timeout: Callable[[], Drop]) -> Iterator[Record | Drop]:
    """The records and drops of ``items``, produced in a daemon thread; when none comes
    (nor a None, which says "still progressing") within ``timeout_s``, ``on_timeout()``
    ends the output and the thread is left to finish or block on its own."""
    channel: queue.Queue = queue.Queue(maxsize=8)
    stopped = threading.Event()

    def send(message: tuple) -> bool:
        while not stopped.is_set():
            try:
                channel.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with contextlib.closing(items):  # an abandoned read closes its file
                for item in items:
                    if not send(("item", item)):
                        return
            send(("end", None))
        except BaseException as err:  # a bug: re-raised in the caller's thread
            send(("error", err))

    threading.Thread(target=produce, daemon=True, name="codemix-archive").start()
    try:
        while True:
            try:
                what, item = channel.get(timeout=timeout_s)
            except queue.Empty:
                yield on_timeout()
                return
            if what == "end":
                return
            if what == "error":
                raise item
            if item is not None:
                yield item
    finally:
        stopped.set()


def list_units(spec: InputSpec, comp: ComponentSpec) -> Iterator[Unit | Drop]:
    """One unit per archive file the URL (or glob) names, sorted, and drops for a match
    that cannot be read (see ``files.matching_files``)."""
    for found in matching_files(spec, comp):
        yield found if isinstance(found, Drop) else found[0]


def read_unit(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop]:
    """The documents of one archive: records, and drops for refused members and damage."""
    read = _zip if unit.path.lower().endswith(".zip") else _tar
    return _timed(read(spec, comp, unit), spec.timeout_s,
                  lambda: Drop(comp.name, "read", "read_timeout", unit.path, spec.label, 0,
                               f"{unit.path}: no member done in {spec.timeout_s:g} s"))
