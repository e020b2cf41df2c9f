"""A build's output as the bytes two runs of the same build must share."""

from __future__ import annotations

import pathlib

from pipelines.timing import reproducible_bytes


def snapshot(out: pathlib.Path) -> dict[str, bytes]:
    """Every file of a build's output by path relative to it, as ``reproducible_bytes``
    gives it (stats.json without its timings; files that show timings left out)."""
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file()}
    kept = {path: reproducible_bytes(path, data) for path, data in files.items()}
    return {path: data for path, data in kept.items() if data is not None}
