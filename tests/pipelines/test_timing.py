"""Stage timings: measured per call where the stage runs, written to stats.json."""

from __future__ import annotations

import json

import apache_beam as beam

from pipelines.accounting import TIMED_STAGES
from pipelines.timing import Timed, reproducible_bytes, stage_seconds


def _busy(n: int) -> int:
    """About 20 ms of CPU, the same on every call."""
    total = 0
    for i in range(400_000):
        total += i * n % 7
    return total


def _cheap_then_yield(x: int):
    yield x


def test_a_stage_is_not_charged_for_the_fused_stage_after_it():
    # The first stage's generator yields into the second, fused into the same thread: its
    # timer must stop before the second stage's work runs.
    pipeline = beam.Pipeline()
    (pipeline | beam.Create(list(range(20)))
     | "Up" >> beam.FlatMap(Timed("up", _cheap_then_yield))
     | "Down" >> beam.Map(Timed("down", _busy)))
    result = pipeline.run()
    result.wait_until_finish()
    seconds = stage_seconds(result.metrics())
    assert set(seconds) == {"up", "down"}
    assert seconds["down"]["cpu_s"] > 0.1
    assert seconds["up"]["cpu_s"] < seconds["down"]["cpu_s"] / 10
    assert seconds["down"]["wall_s"] >= seconds["down"]["cpu_s"] * 0.9


def test_stats_time_every_stage_and_the_build(built_corpus):
    timings = json.loads((built_corpus / "stats.json").read_text())["timings"]
    assert set(timings["stages"]) == set(TIMED_STAGES)
    for stage, t in timings["stages"].items():
        assert t["wall_s"] > 0 and t["cpu_s"] > 0, stage
    # One process: the stages' busy time is part of the build's wall time.
    build = timings["build"]
    assert sum(t["wall_s"] for t in timings["stages"].values()) <= build["wall_s"]
    assert build["cpu_s"] > 0


def test_only_the_timings_of_stats_differ_between_runs():
    a = {"components": {"c": {"in": 1}}, "timings": {"build": {"wall_s": 1.0}}}
    b = {"components": {"c": {"in": 1}}, "timings": {"build": {"wall_s": 2.0}}}
    dump = lambda s: json.dumps(s).encode()  # noqa: E731
    assert reproducible_bytes("stats.json", dump(a)) == reproducible_bytes("stats.json", dump(b))
    assert reproducible_bytes("stats.json", dump(a)) != reproducible_bytes(
        "stats.json", dump({**a, "components": {"c": {"in": 2}}}))
    assert reproducible_bytes("code/00000.shard", b"x") == b"x"
