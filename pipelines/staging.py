"""Where a build writes until it publishes, and the publish: never lose the corpus there.

On a local disk every file of a build (shards, tokenizer.json, side files, stats.json, the
manifest last) is written under ``OUT/.staging/``. Only when the pipeline has finished,
every document is accounted for and no check failed does ``publish`` move the staged files
into ``OUT``: first the old manifest goes (the folder never names files of two builds),
then each staged file is renamed into place, then every build file the new manifest and
stats do not name (shards of a bigger old build, old side-file parts) is removed, and the
new manifest is renamed in last. So a build that fails or is interrupted before the
publish, whatever the runner was doing, leaves the previous corpus exactly as it was;
SIGINT and SIGTERM wait while a publish runs (milliseconds: renames on one disk). Only a
process killed outright inside the publish leaves ``OUT`` without a manifest; the staged
manifest then still names a complete build, and the next build's ``prepare`` finishes that
publish first.

On an object store a rename is a copy, so nothing is moved: a build writes a generation
folder of its own, ``OUT/gen-<random>/``, and publishing is writing the small pointer file
``OUT/LATEST`` that names it (one object, written whole), after which the older
generations are removed. Readers find the manifest through the pointer
(``shards.manifest.locate``).
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import signal
import threading
import uuid
from collections.abc import Iterator

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipelines.config import ConfigError
from pipelines.droplog import DROP_LOG_DIR
from pipelines.results import CLUSTERS_DIR, STATS_NAME
from report import REPORT_NAME
from shards.manifest import (GENERATION_PREFIX, MANIFEST_NAME, POINTER_NAME, Manifest,
                             locate, unnamed_shards)

STAGING_DIR = ".staging"
SIDE_FILE_DIRS = (DROP_LOG_DIR, CLUSTERS_DIR)
"""Folders of side files (``pipelines.sidefile``), listed by stats.json."""


def _local(output: str) -> bool:
    return isinstance(fsspec.core.url_to_fs(output)[0], LocalFileSystem)


def build_root(output: str) -> str:
    """The folder (URL) a new build into ``output`` writes its files to: the staging area
    on a local disk, a new generation folder on an object store."""
    out = output.rstrip("/")
    if _local(output):
        return f"{out}/{STAGING_DIR}"
    return f"{out}/{GENERATION_PREFIX}{uuid.uuid4().hex[:12]}"


def published_root(output: str) -> str:
    """The folder (URL) that holds the published corpus of ``output``."""
    return posixpath.dirname(locate(output))


def prepare(output: str, root: str) -> None:
    """Make ``output`` ready for a build into ``root`` (``build_root``), before any work:
    check that it is a folder this process can write; on a local disk, finish a publish
    that a killed process left half done (its staged manifest names a complete build, and
    ``output`` has no manifest), else discard what an unfinished build staged; on an object
    store, remove the generations of unfinished builds.

    Raises:
        ConfigError: ``output`` is a file, or cannot be written; one line.
    """
    fs, path = fsspec.core.url_to_fs(output)
    path = path.rstrip("/")
    if fs.exists(path) and not fs.isdir(path):
        raise ConfigError(f"output {output} is a file, not a folder")
    if not _local(output):
        _remove_generations(fs, path, keep=_current_generation(fs, path))
    elif (fs.exists(f"{path}/{STAGING_DIR}/{MANIFEST_NAME}")
            and not fs.exists(f"{path}/{MANIFEST_NAME}")):
        publish(output, root)
    else:
        discard(root)
    target = fsspec.core.url_to_fs(root)[1]
    try:
        fs.makedirs(target, exist_ok=True)
        fs.pipe_file(f"{target}/probe", b"")
        fs.rm(f"{target}/probe")
    except OSError as err:
        raise ConfigError(f"output {output}: cannot write there "
                          f"({err.strerror or err})") from None


def discard(root: str) -> None:
    """Remove a build's folder (``build_root``) and everything in it."""
    fs, path = fsspec.core.url_to_fs(root)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def _current_generation(fs: fsspec.AbstractFileSystem, path: str) -> str | None:
    pointer = f"{path}/{POINTER_NAME}"
    return fs.cat_file(pointer).decode().strip() if fs.exists(pointer) else None


def _remove_generations(fs: fsspec.AbstractFileSystem, path: str, keep: str | None) -> None:
    """Remove every generation folder of ``path`` but ``keep``."""
    for folder in fs.glob(f"{path}/{GENERATION_PREFIX}*"):
        if posixpath.basename(folder.rstrip("/")) != keep:
            fs.rm(folder, recursive=True)


def _staged_files(fs: fsspec.AbstractFileSystem, root: str) -> list[str]:
    """The files of the build staged in ``root``, relative, manifest excluded: its
    tokenizer and shards, stats.json, the report and the side files stats.json lists (stats.json may
    be published already, by a publish that was killed). Anything else in the staging area
    (a crashed worker's temporary file) is not part of the build and is not moved."""
    staging = f"{root}/{STAGING_DIR}"
    with fs.open(f"{staging}/{MANIFEST_NAME}", "rt", encoding="utf-8") as f:
        manifest = Manifest.from_dict(json.load(f))
    stats_path = f"{staging}/{STATS_NAME}"
    with fs.open(stats_path if fs.exists(stats_path) else f"{root}/{STATS_NAME}", "rt",
                 encoding="utf-8") as f:
        stats = json.load(f)
    shards = [s.path for c in manifest.components for s in c.shards]
    report = [REPORT_NAME] if fs.exists(f"{staging}/{REPORT_NAME}") else []
    return [manifest.tokenizer.path, *shards, STATS_NAME, *report, *stats["drop_log"],
            *stats["clusters"]]


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends, then are delivered: a publish cut in
    the middle would leave neither corpus in place. Only the main thread can do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, _frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in caught[:1]:
            signal.raise_signal(signum)


def publish(output: str, root: str) -> None:
    """Publish the complete build written to ``root`` (``build_root``) as ``output``'s
    corpus (see the module docstring); SIGINT and SIGTERM wait until it is done."""
    fs, path = fsspec.core.url_to_fs(output)
    path = path.rstrip("/")
    with _interrupts_held():
        if _local(output):
            _publish_staged(fs, path)
        else:
            generation = posixpath.basename(root.rstrip("/"))
            fs.pipe_file(f"{path}/{POINTER_NAME}", f"{generation}\n".encode())
            _remove_generations(fs, path, keep=generation)


def _publish_staged(fs: fsspec.AbstractFileSystem, root: str) -> None:
    """Move the build staged under ``root`` into ``root``, manifest last; remove the build
    files the new manifest and stats do not name, and the staging area. Safe to run again
    after it was killed part way (files moved already are skipped)."""
    staging = f"{root}/{STAGING_DIR}"
    files = _staged_files(fs, root)
    if fs.exists(f"{root}/{MANIFEST_NAME}"):
        fs.rm(f"{root}/{MANIFEST_NAME}")
    for rel in files:
        if fs.exists(f"{staging}/{rel}"):
            fs.makedirs(posixpath.dirname(f"{root}/{rel}"), exist_ok=True)
            fs.mv(f"{staging}/{rel}", f"{root}/{rel}")
    named = set(files)
    stale = unnamed_shards(fs, root, named)
    for folder in SIDE_FILE_DIRS:
        if fs.isdir(f"{root}/{folder}"):
            stale += [rel for rel in _relative(fs, root, f"{root}/{folder}")
                      if rel not in named]
    for rel in stale:
        fs.rm(f"{root}/{rel}")
    _remove_empty_folders(fs, root, {posixpath.dirname(rel) for rel in stale})
    fs.mv(f"{staging}/{MANIFEST_NAME}", f"{root}/{MANIFEST_NAME}")
    fs.rm(staging, recursive=True)


def _relative(fs: fsspec.AbstractFileSystem, root: str, folder: str) -> list[str]:
    return [posixpath.relpath(path, root) for path in fs.find(folder)]


def _remove_empty_folders(fs: fsspec.AbstractFileSystem, root: str, folders: set[str]) -> None:
    """Remove each of ``folders`` (relative to ``root``) left empty, e.g. the folder of a
    component the new build no longer has."""
    for folder in sorted(folders, key=len, reverse=True):
        path = f"{root}/{folder}"
        if folder not in ("", ".") and fs.isdir(path) and not fs.ls(path):
            fs.rmdir(path)
