"""The files a file-format input names (``jsonl``, ``parquet``, ``stack``): one path or a
glob, local or remote (fsspec).

Local files are checked to be regular files both when listed and again when opened, so a
FIFO or a device that matches the glob (or replaced a file since) costs one
``not_regular_file`` drop instead of a read that blocks forever. Remote files are opened
through fsspec, whose own timeouts apply. Names that are not valid UTF-8 are carried as
``Unit.raw`` (see ``pipelines.sources.unit``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.sources.reading import NotRegularFile, open_regular
from pipelines.sources.unit import Unit, printable_name


def _local_size(path: str | bytes) -> int | None:
    """Size of a local regular file; None for a folder; raises ``NotRegularFile`` for
    anything else and ``OSError`` when it cannot be examined (e.g. a broken link)."""
    mode = os.stat(path)
    if stat.S_ISDIR(mode.st_mode):
        return None
    if not stat.S_ISREG(mode.st_mode):
        raise NotRegularFile(f"not a regular file: {os.fsdecode(path)}")
    return mode.st_size


def matching_files(spec: InputSpec, comp: ComponentSpec) -> Iterator[tuple[Unit, int] | Drop]:
    """Each file that ``spec.url`` names, sorted, as a whole-file unit and its size in bytes.

    Folders that match a glob are skipped (they hold no document of their own); a path that
    cannot be examined is one ``unreadable`` drop, and a local FIFO, socket or device one
    ``not_regular_file`` drop, both named by the path.

    Args:
        spec: the input; ``url`` is a file or a glob of files (fsspec URL).
        comp: the component, whose name labels the drops.
    """
    fs, pattern = fsspec.core.url_to_fs(spec.url)
    local = isinstance(fs, LocalFileSystem)
    try:
        paths = fs.glob(pattern) if fsspec.core.has_magic(pattern) else [pattern]
    except OSError as err:
        yield Drop(comp.name, "read", "unreadable", spec.url, spec.label, 0, str(err))
        return
    for path in sorted(paths):
        name, raw = printable_name(path) if local else (fs.unstrip_protocol(path), b"")
        try:
            if local:
                size = _local_size(raw or path)
            else:
                info = fs.info(path)
                size = None if info.get("type") == "directory" else int(info.get("size") or 0)
        except NotRegularFile as err:
            yield Drop(comp.name, "read", "not_regular_file", name, spec.label, 0, str(err))
            continue
        except OSError as err:
            yield Drop(comp.name, "read", "unreadable", name, spec.label, 0, str(err))
            continue
        if size is not None:
            yield Unit(path=name, raw=raw), size


def open_file(unit: Unit) -> BinaryIO:
    """``unit``'s file opened for binary reading (seekable).

    Raises:
        NotRegularFile: a local path that is no longer a regular file.
        OSError: it cannot be opened.
    """
    fs, path = fsspec.core.url_to_fs(unit.path)
    if unit.raw or isinstance(fs, LocalFileSystem):
        local = unit.raw or path
        if _local_size(local) is None:
            raise IsADirectoryError(f"a folder: {unit.path}")
        # NOTE: stat then open would block on a FIFO swapped in between; this cannot.
        return open_regular(local)
    return fs.open(path, "rb")
