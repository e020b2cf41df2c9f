"""Near dedup's band passes run in turn on a batch runner and side by side when streaming,
with the same outcome.

On a batch runner each LSH pass waits for the previous one (a side input), so a worker
holds one pass's buckets at a time. A streaming pipeline would keep every fingerprint
waiting in the workers' heap until the previous pass ended (Flink's operator state), so
there the passes do not wait. The schedule is the only difference."""

from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from pipelines.config import DedupSpec
from pipelines import deduplicate
from pipelines.deduplicate import Deduplicate
from pipelines.records import Record, record_id

WORDS = [f"w{i}" for i in range(2000)]
FAMILIES = 24

BATCH = ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]
STREAMING = [*BATCH, "--streaming"]


def _records() -> list[Record]:
    """Families of three: an original with stars (the keeper) and two copies with one word
    changed each, far from every other family (300 words drawn from 2,000)."""
    records = []
    for family in range(FAMILIES):
        rng = random.Random(family)
        words = [rng.choice(WORDS) for _ in range(300)]
        for copy in range(3):
            text = list(words)
            if copy:
                text[rng.randrange(300)] = f"changed{copy}"
            path = f"fam{family}-{copy}"
            joined = " ".join(text)
            records.append(Record(id=record_id(path, joined), text=joined, kind="text",
                                  lang="text", component="t", path=path,
                                  meta={"stars": 100 if copy == 0 else 0}))
    return records


def _band_waits(options: list[str]) -> dict[str, int]:
    pipeline = beam.Pipeline(options=PipelineOptions(options))
    _ = pipeline | beam.Create(_records()) | Deduplicate(DedupSpec())
    transforms = pipeline.to_runner_api().components.transforms
    return {t.unique_name.rsplit("/", 1)[-1]: len(t.inputs) - 1 for t in transforms.values()
            if t.unique_name.rsplit("/", 1)[-1].startswith("ToBands")
            and not t.subtransforms}


def test_the_band_passes_wait_in_batch_and_not_when_streaming():
    in_turn = {"ToBands0": 0, "ToBands1": 1, "ToBands2": 1, "ToBands3": 1}
    assert _band_waits(["--runner=DirectRunner"]) == in_turn
    assert _band_waits(BATCH) == in_turn
    assert _band_waits(STREAMING) == {f"ToBands{g}": 0 for g in range(4)}


# Run in batch: the embedded job service refuses unbounded work, and the schedule, not the
# mode, is what differs.
@pytest.mark.parametrize("waits", [True, False], ids=["in-turn", "side-by-side"])
def test_both_schedules_keep_each_family_s_original(waits, monkeypatch):
    monkeypatch.setattr(deduplicate, "buffers_waiting_input", lambda options: not waits)
    records = _records()
    by_path = {r.path: r.id for r in records}
    with beam.Pipeline(options=PipelineOptions(BATCH)) as p:
        kept, drops, _, _ = p | beam.Create(records) | Deduplicate(DedupSpec())
        assert_that(kept | beam.Map(lambda r: r.path),
                    equal_to([f"fam{f}-0" for f in range(FAMILIES)]), label="kept")
        assert_that(drops | beam.Map(lambda d: (d.id, d.reason)), equal_to(
            [(by_path[f"fam{f}-{c}"], "near_duplicate") for f in range(FAMILIES)
             for c in (1, 2)]), label="drops")
