"""Wall and CPU seconds per build stage, measured where the stage's functions run.

A runner fuses stages and interleaves them (a record read is cleaned, filtered and redacted
before the next one is read), so the time between a stage's first and last record says
little. Instead each stage's pure functions are timed per call, on whichever worker runs
them: wall time (``perf_counter``) and the CPU time of the calling thread
(``thread_time``), added to Beam counters that every runner aggregates over its workers.
A generator's output is drawn inside the timer: the records a stage yields are processed by
the next, fused, stage in the same thread, which must not count as this stage's time.

The stage totals are busy time summed over workers: on 8 workers a stage can take more
seconds than the build's wall time. ``BuildClock`` measures the whole build from the
submitting process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import resource
import time
from collections.abc import Callable, Iterator
from typing import Any

import fsspec
from apache_beam.metrics.metric import Metrics, MetricsFilter

from pipelines.accounting import TIMED_STAGES
from shards.format import write_bytes_atomic

NAMESPACE = "codemix.time"
"""Beam counter namespace of the timers: ``<stage>/wall_ns`` and ``<stage>/cpu_ns``."""


_COUNTERS: dict[str, Any] = {}


def _counter(name: str) -> Any:
    if name not in _COUNTERS:
        _COUNTERS[name] = Metrics.counter(NAMESPACE, name)
    return _COUNTERS[name]


@contextlib.contextmanager
def stage_timer(stage: str) -> Iterator[None]:
    """Adds the wall and thread CPU nanoseconds of the ``with`` body to ``stage``'s
    counters. Use it around work only, never around a ``yield`` of a DoFn."""
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    try:
        yield
    finally:
        _counter(f"{stage}/wall_ns").inc(time.perf_counter_ns() - wall)
        _counter(f"{stage}/cpu_ns").inc(time.thread_time_ns() - cpu)


class Timed:
    """``fn`` with each call timed under ``stage``; a generator's items are drawn inside
    the timer and returned as a list, so the caller still gets an iterable."""

    def __init__(self, stage: str, fn: Callable[..., Any]):
        self.stage, self.fn = stage, fn

    # NOTE: no annotations here: Beam reads a callable's annotations as its element types.
    def __call__(self, *args, **kwargs):
        with stage_timer(self.stage):
            out = self.fn(*args, **kwargs)
            if isinstance(out, Iterator):
                out = list(out)
        return out


def stage_seconds(metrics: Any) -> dict[str, dict[str, float]]:
    """``{stage: {"wall_s", "cpu_s"}}`` from a pipeline result's ``metrics()``, in pipeline
    order, for the stages that ran. Committed values where the runner has them, else the
    attempted ones (some portable runners report only those)."""
    totals: dict[str, dict[str, float]] = {}
    for result in metrics.query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        stage, _, unit = result.key.metric.name.rpartition("/")
        value = result.committed if result.committed is not None else result.attempted
        key = {"wall_ns": "wall_s", "cpu_ns": "cpu_s"}.get(unit)
        if key and value:
            entry = totals.setdefault(stage, {"wall_s": 0.0, "cpu_s": 0.0})
            entry[key] += value / 1e9
    order = {s: i for i, s in enumerate(TIMED_STAGES)}
    return {s: {k: round(v, 3) for k, v in totals[s].items()}
            for s in sorted(totals, key=lambda s: (order.get(s, len(order)), s))}


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclasses.dataclass(frozen=True)
class BuildClock:
    """Wall and CPU time of the submitting process (and its children) since ``start()``.

    On DirectRunner and LOOPBACK workers that is the whole build; on a cluster the workers'
    CPU is elsewhere, and only the stage totals (from the workers' counters) include it.
    """

    wall: float
    cpu: float

    @classmethod
    def start(cls) -> "BuildClock":
        return cls(time.perf_counter(), _cpu_seconds())

    def elapsed(self) -> dict[str, float]:
        """``{"wall_s", "cpu_s"}`` since the clock started."""
        return {"wall_s": round(time.perf_counter() - self.wall, 3),
                "cpu_s": round(_cpu_seconds() - self.cpu, 3)}


def timings(clock: BuildClock, metrics: Any) -> dict[str, Any]:
    """stats.json's ``timings``: ``{"build": {"wall_s", "cpu_s"}, "stages": {stage:
    {"wall_s", "cpu_s"}}}``. The only part of stats.json that differs between two runs of
    the same build."""
    return {"build": clock.elapsed(), "stages": stage_seconds(metrics)}


def write_timings(stats_url: str, times: dict[str, Any]) -> dict[str, Any]:
    """Add ``times`` to the stats.json at ``stats_url`` as ``timings`` (written atomically,
    formatted as the build writes it); returns the stats."""
    with fsspec.open(stats_url, "rt") as f:
        stats = json.load(f)
    stats["timings"] = times
    write_bytes_atomic(stats_url, (json.dumps(stats, sort_keys=True, indent=2) + "\n").encode())
    return stats


RUN_DEPENDENT = frozenset({"report.html"})
"""Output files that show timings (so differ between runs), relative to the output folder."""


def reproducible_bytes(relative_path: str, data: bytes) -> bytes | None:
    """What of an output file two runs of the same build must give byte for byte: the file
    as it is, stats.json without ``timings``, nothing (None) for a ``RUN_DEPENDENT`` file."""
    if relative_path in RUN_DEPENDENT:
        return None
    if relative_path == "stats.json":
        stats = json.loads(data)
        stats.pop("timings", None)
        return (json.dumps(stats, sort_keys=True, indent=2) + "\n").encode()
    return data
