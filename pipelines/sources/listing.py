"""Listing files under an fsspec URL, shared by the file-based formats."""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath

import fsspec


def source_name(url: str, name: str) -> str:
    """The repository/collection name recorded on documents: ``name``, or the URL's last
    path element."""
    return name or posixpath.basename(url.rstrip("/")) or url


def _matches(rel: str, patterns: tuple[str, ...]) -> bool:
    # "**/" also matches zero folders, as in gitignore: "**/*.py" matches "a.py".
    return any(fnmatch.fnmatchcase(rel, p) or
               (p.startswith("**/") and fnmatch.fnmatchcase(rel, p[3:])) for p in patterns)


def list_files(url: str, include: tuple[str, ...], exclude: tuple[str, ...],
               max_files: int | None) -> list[str]:
    """Relative paths of the files under ``url`` that match, deterministic and capped.

    Args:
        url: folder URL.
        include: glob patterns a relative path must match (one of them).
        exclude: glob patterns that remove a path again.
        max_files: keep only the files with the smallest sha256 of their relative path, so
            a cap samples the whole tree evenly and picks the same files every run.

    Returns:
        Relative POSIX paths, sorted.
    """
    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    rels = []
    for path in fs.find(root):
        rel = posixpath.relpath(path, root)
        if _matches(rel, include) and not _matches(rel, exclude):
            rels.append(rel)
    if max_files is not None and len(rels) > max_files:
        rels = sorted(rels, key=lambda r: hashlib.sha256(r.encode()).digest())[:max_files]
    return sorted(rels)


def join(url: str, rel: str) -> str:
    """URL of a file given its folder URL and relative path."""
    return url.rstrip("/") + "/" + rel
