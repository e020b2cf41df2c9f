"""The drop log: one JSON line per dropped document or unreadable unit, beside the shards.

stats.json says how many documents left the build and why; the drop log says which: its
rows (``id`` or location, ``path``, ``component``, ``source``, ``stage``, ``reason``,
``bytes``, ``detail``) let a user find every file, line or archive member that did not make
it, and why (a filter's ``detail`` is its measure against its bound), e.g. with
``jq 'select(.reason == "long_mean_line") | [.path, .detail]' drops/*.jsonl``. It is
a side file (``pipelines.sidefile``): ``drops/part-NNNNN.jsonl``, deterministic.
"""

from __future__ import annotations

import dataclasses
import json

import apache_beam as beam

from pipelines.accounting import Drop
from pipelines.sidefile import WriteSideFile

DROP_LOG_DIR = "drops"


def drop_row(drop: Drop) -> str:
    """One drop as a JSON line (ASCII-escaped, so odd names can never break the file);
    ``path`` is the unit's location when no document was read from it."""
    return json.dumps({**dataclasses.asdict(drop), "path": drop.path or drop.id},
                      sort_keys=True)


class WriteDropLog(beam.PTransform):
    """Write every drop to the drop log; returns the PCollection of files written."""

    def __init__(self, output: str):
        super().__init__()
        self._output = output

    def expand(self, drops):
        return (drops
                | "Row" >> beam.Map(drop_row)
                | "Write" >> WriteSideFile(self._output, DROP_LOG_DIR))
