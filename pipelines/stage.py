"""The Beam glue every stage shares: route a pure stage function's output into records and
tagged drops, and count what enters a stage.

Stage modules keep their logic in plain functions and wrap them with ``ApplyStage`` in a
thin composite; nothing here knows what a stage does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam

from pipelines.accounting import Drop
from pipelines.progress import tick
from pipelines.timing import Timed

DROPPED = "dropped"
"""Tag of the drops output of every stage."""


def _route(item: Any, fn: Callable[..., Any], args: tuple) -> Iterator[Any]:
    """Call a stage function and split what it returns into records and tagged drops."""
    out = fn(item, *args)
    for x in out if isinstance(out, (list, tuple)) or hasattr(out, "__next__") else (out,):
        yield beam.pvalue.TaggedOutput(DROPPED, x) if isinstance(x, Drop) else x


class ApplyStage(beam.PTransform):
    """Apply a pure stage function ``fn(record, *args) -> Record | Drop | iterable``, its
    calls timed under ``stage`` (``pipelines.timing``).

    Returns ``(records, drops)``.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, stage: str):
        super().__init__()
        self._fn, self._args, self._stage = fn, args, stage

    def expand(self, pcoll):
        out = pcoll | beam.FlatMap(_route, Timed(self._stage, self._fn), self._args).with_outputs(
            DROPPED, main="records")
        return out.records, out[DROPPED]


def _entering(record: Any, stage: str) -> tuple[tuple, int]:
    tick(stage, 1, len(record.text.encode("utf-8", "surrogatepass")))
    return ("in", record.component, stage), 1


def count_entering(records, stage: str):
    """``(("in", component, stage), n)`` for the records entering a stage (and a progress
    tick for each, ``pipelines.progress``)."""
    return (records
            | f"Key{stage}" >> beam.Map(_entering, stage)
            | f"Count{stage}" >> beam.CombinePerKey(sum))
