"""codemix on real engines: standalone Spark and Flink clusters on this machine, with Python
work in harness processes of their own (EXTERNAL environment), against DirectRunner."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from clusters import REPO, harness_pids, running, script
from corpus import make_corpus
from snapshot import snapshot
from pipelines.main import run


def _direct_then(config: pathlib.Path, out: pathlib.Path) -> dict[str, bytes]:
    """Build ``config`` on DirectRunner (one process), keep its bytes, empty ``out``."""
    assert run([str(config)]) == 0
    expected = snapshot(out)
    shutil.rmtree(out)
    return expected


@pytest.fixture(scope="module")
def spark():
    with running("spark", 2) as options:
        yield options


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The generated corpus (exact and near copies planted) and DirectRunner's output."""
    config = make_corpus(tmp_path_factory.mktemp("planted"))
    out = config.parent / "out"
    return config, out, _direct_then(config, out)


def test_spark_build_of_the_planted_corpus_is_byte_identical(spark, planted):
    config, out, expected = planted
    assert run([str(config), *spark]) == 0
    got = snapshot(out)
    assert {"manifest.json", "stats.json", "tokenizer.json"} <= set(got)
    assert any(name.startswith("clusters/") for name in got)
    assert any(name.startswith("drops/") for name in got)
    assert got == expected


def test_spark_build_of_the_demo_is_byte_identical(spark, tmp_path):
    spec = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    spec["output"] = str(tmp_path / "out")
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(spec, sort_keys=False))
    expected = _direct_then(config, tmp_path / "out")
    assert run([str(config), *spark]) == 0
    assert snapshot(tmp_path / "out") == expected


def _build_killing_a_harness(config: pathlib.Path, options: list[str]) -> tuple[int, str]:
    """Run ``codemix build``, SIGKILL one Python harness in the middle of it, and return the
    build's exit status and output."""
    build = subprocess.Popen([sys.executable, "-m", "codemix", "build", str(config), *options],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    deadline = time.monotonic() + 300
    while not harness_pids("spark") and build.poll() is None:
        assert time.monotonic() < deadline, "no harness started"
        time.sleep(0.5)
    time.sleep(3)  # in the middle of the build, not at its start
    killed = False
    while not killed and build.poll() is None:
        # Harnesses come and go with the engine's tasks: kill the first one found alive.
        for pid in harness_pids("spark"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
        time.sleep(0.1)
    assert killed, "the build finished before a harness could be killed"
    output, _ = build.communicate(timeout=900)
    return build.returncode, output


def test_spark_retries_a_killed_harness_and_the_bytes_do_not_change(spark, planted):
    """Spark runs the failed task again, in a new harness."""
    config, out, expected = planted
    shutil.rmtree(out, ignore_errors=True)
    status, output = _build_killing_a_harness(config, spark)
    assert status == 0, output
    assert snapshot(out) == expected


def test_a_job_the_engine_fails_is_one_line(spark, planted):
    """With harnesses kept between tasks, Spark's retries go to the killed one and it fails
    the job: the build says so in one line, no traceback, and publishes nothing."""
    config, out, _ = planted
    shutil.rmtree(out, ignore_errors=True)
    status, output = _build_killing_a_harness(config, [*spark, "--environment_cache_millis=600000"])
    assert status == 2, output
    errors = [line for line in output.splitlines() if line.startswith("codemix: error:")]
    assert len(errors) == 1 and "the runner failed the build" in errors[0], output
    assert "Traceback" not in output
    assert not (out / "manifest.json").exists()


def test_a_killed_build_rerun_gives_the_same_bytes(spark, planted):
    """The whole build killed (its driver and its job) and run again from the start."""
    config, out, expected = planted
    shutil.rmtree(out, ignore_errors=True)
    build = subprocess.Popen([sys.executable, "-m", "codemix", "build", str(config), *spark],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not harness_pids("spark"):
        assert time.monotonic() < deadline and build.poll() is None
        time.sleep(0.5)
    time.sleep(5)
    build.kill()
    build.wait()
    # The job lives on in the job server: a user stops the cluster's work before rerunning.
    script("spark", "down")
    up = script("spark", "up", "2")
    assert up.returncode == 0, up.stderr
    assert run([str(config), *spark]) == 0
    assert snapshot(out) == expected


def test_flink_cluster_runs_python_work_on_every_task_manager(tmp_path):
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
    with running("flink", 2) as options:
        done = subprocess.run([sys.executable, "-c", job, str(src), str(out), *options],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        harness_logs = list((pathlib.Path(os.environ.get(
            "CODEMIX_CACHE", pathlib.Path.home() / ".cache/codemix"))
            / "clusters" / "flink" / "harness").glob("harness-*.log"))
    counts = {}
    for part in tmp_path.glob("counts*"):
        for line in part.read_text().splitlines():
            word, n = line.split()
            counts[word] = int(n)
    expected = {w: words.count(w) for w in set(words)}
    assert counts == expected
    assert len(harness_logs) >= 2  # one harness per task manager at least


def test_flink_build_of_the_planted_corpus_is_byte_identical(tmp_path):
    """The whole build on Flink, with connected components unrolled to 8 rounds: Flink's
    batch planner walks every path of the plan, and each round doubles them (README)."""
    config = make_corpus(tmp_path)
    spec = yaml.safe_load(config.read_text())
    spec["dedup"] = {"max_rounds": 8}
    config.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = config.parent / "out"
    expected = _direct_then(config, out)
    with running("flink", 2) as options:
        assert run([str(config), *options]) == 0
    assert snapshot(out) == expected


def test_the_script_says_one_line_for_each_user_error(tmp_path):
    usage = script("storm", "up")
    assert usage.returncode != 0 and usage.stderr.count("\n") == 1
    workers = script("spark", "up", "two")
    assert workers.returncode != 0 and "WORKERS" in workers.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        base = busy.getsockname()[1] - 8081  # Flink's REST port lands on the busy one
        taken = script("flink", "up", env={"CODEMIX_PORT_BASE": str(base),
                                            "CODEMIX_CLUSTER_DIR": str(tmp_path / "state")})
    assert taken.returncode != 0
    assert taken.stderr.strip().count("\n") == 0 and "in use" in taken.stderr
    # Every tool the script uses before it looks for Java, and no Java.
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "dirname", "mkdir", "rm", "cat", "basename", "sleep", "seq"):
        (tools / tool).symlink_to(shutil.which(tool))
    no_java = script("spark", "up", env={"PATH": str(tools),
                                         "CODEMIX_CLUSTER_DIR": str(tmp_path / "state")})
    assert no_java.returncode != 0
    assert no_java.stderr.strip().count("\n") == 0 and "Java" in no_java.stderr
