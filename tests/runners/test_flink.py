"""codemix on a real standalone Flink cluster on this machine (2 task managers), with Python
work in harness processes of the worker pool (EXTERNAL environment), against DirectRunner."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from clusters import demo_config, direct_then, running, snapshot, state
from pipelines.main import run


@pytest.fixture(scope="module")
def flink():
    with running("flink", 2) as options:
        yield options


def test_flink_cluster_runs_python_work_on_every_task_manager(flink, tmp_path):
    """A real Beam job (a shuffle, then a count per key) on 2 task managers, each with its
    own harness process; the result is checked against plain Python."""
    words = [f"w{i % 37}" for i in range(20_000)]
    src = tmp_path / "words.txt"
    src.write_text("\n".join(words) + "\n")
    out = tmp_path / "counts"
    job = (
        "import sys, apache_beam as beam\n"
        "from apache_beam.options.pipeline_options import PipelineOptions\n"
        "with beam.Pipeline(options=PipelineOptions(sys.argv[3:])) as p:\n"
        "    (p | beam.io.ReadFromText(sys.argv[1]) | beam.Map(lambda w: (w, 1))\n"
        "       | beam.CombinePerKey(sum) | beam.MapTuple(lambda w, n: f'{w} {n}')\n"
        "       | beam.io.WriteToText(sys.argv[2]))\n")
    pool_log = state("flink") / "worker-pool.log"
    seen = len(pool_log.read_text())
    done = subprocess.run([sys.executable, "-c", job, str(src), str(out), *flink],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    # Each task manager asks for its harness at a control endpoint of its own.
    endpoints = set(re.findall(r"started for worker \S+ at (\S+)", pool_log.read_text()[seen:]))
    counts = {}
    for part in tmp_path.glob("counts*"):
        for line in part.read_text().splitlines():
            word, n = line.split()
            counts[word] = int(n)
    expected = {w: words.count(w) for w in set(words)}
    assert counts == expected
    assert len(endpoints) >= 2


def test_flink_build_of_the_planted_corpus_is_byte_identical(flink, planted):
    """With every clustering round unrolled (32, the default): the script submits through
    Beam's streaming translation, as Flink's batch planner never finishes planning them."""
    config, out, expected = planted
    assert run([str(config), *flink]) == 0
    assert snapshot(out) == expected


def test_flink_build_of_the_demo_is_byte_identical(flink, tmp_path):
    config = demo_config(tmp_path)
    expected = direct_then(config, tmp_path / "out")
    assert run([str(config), *flink]) == 0
    assert snapshot(tmp_path / "out") == expected
