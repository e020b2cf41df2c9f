"""``codemix report``: one self-contained HTML page about a build and, optionally, a
training run on it (``report.corpus``, ``report.training``); charts are inline SVG
(``report.svg``), so the page needs no network and no script."""

from __future__ import annotations

from report.corpus import corpus_sections
from report.page import document
from report.training import training_sections
from shards.format import write_bytes_atomic

REPORT_NAME = "report.html"


def write_report(out: str, train_dir: str | None = None, dest: str | None = None) -> str:
    """Write the report of the build in ``out`` (and of the run in ``train_dir``) to
    ``dest`` (default ``out/report.html``); returns where it went."""
    sections = corpus_sections(out)
    if train_dir:
        sections += training_sections(train_dir)
    dest = dest or f"{out.rstrip('/')}/{REPORT_NAME}"
    write_bytes_atomic(dest, document(f"codemix report: {out}", sections).encode("utf-8"))
    return dest
