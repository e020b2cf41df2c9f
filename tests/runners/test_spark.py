"""codemix on a real standalone Spark cluster on this machine (2 workers), with Python work
in harness processes of the worker pool (EXTERNAL environment), against DirectRunner."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

from clusters import REPO, demo_config, direct_then, harness_pids, running, script, snapshot
from pipelines.main import run


@pytest.fixture(scope="module")
def spark():
    with running("spark", 2) as options:
        yield options


def test_spark_build_of_the_planted_corpus_is_byte_identical(spark, planted):
    config, out, expected = planted
    assert run([str(config), *spark]) == 0
    got = snapshot(out)
    assert {"manifest.json", "stats.json", "tokenizer.json"} <= set(got)
    assert any(name.startswith("clusters/") for name in got)
    assert any(name.startswith("drops/") for name in got)
    assert got == expected


def test_spark_build_of_the_demo_is_byte_identical(spark, tmp_path):
    config = demo_config(tmp_path)
    expected = direct_then(config, tmp_path / "out")
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
