"""The EXTERNAL worker pool (``pipelines.worker_pool``) serving real Beam pipelines.

Beam's Python job service (``--job_endpoint=embed``) asks the pool for its harness exactly
as a Flink task manager or a Spark executor does, so the pool is exercised here without a
JVM; ``tests/runners`` runs it under the engines."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

PIPELINE = """
import sys
import time
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
port, out, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
options = PipelineOptions(["--runner=PortableRunner", "--job_endpoint=embed",
                           "--environment_type=EXTERNAL", f"--environment_config=localhost:{port}"])
def slow(x, pause=pause):  # a default: the harness does not have this script's globals
    time.sleep(pause)
    return x % 7, x
with beam.Pipeline(options=options) as p:
    (p | beam.Create(range(1000)) | beam.Map(slow) | beam.GroupByKey()
       | beam.MapTuple(lambda k, v: f"{k} {sum(v)}")
       | beam.io.WriteToText(out, shard_name_template=""))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def _name(pid: int) -> str:
    return pathlib.Path(f"/proc/{pid}/comm").read_text().strip()


@pytest.fixture
def pool(tmp_path):
    """A running pool: (process, port, its log file, its harness log folder)."""
    port = _free_port()
    log = tmp_path / "pool.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.worker_pool", f"--port={port}",
             f"--log-dir={tmp_path / 'harness'}"], cwd=ROOT, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the pool did not listen"
        time.sleep(0.2)
    yield process, port, log, tmp_path / "harness"
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _run(port: int, out: pathlib.Path, pause: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PIPELINE, str(port), str(out), str(pause)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_pipeline_runs_in_a_harness_forked_from_the_zygote(pool, tmp_path):
    process, port, log, harness_logs = pool
    run = _run(port, tmp_path / "out")
    seen: set[tuple[int, str]] = set()
    while run.poll() is None:
        for zygote in _children(process.pid):
            seen |= {(pid, _name(pid)) for pid in _children(zygote) if os.path.exists(f"/proc/{pid}")}
        time.sleep(0.05)
    assert run.returncode == 0, run.stdout.read().decode()[-3000:]
    expected = {k: sum(x for x in range(1000) if x % 7 == k) for k in range(7)}
    written = dict(map(int, line.split()) for line in (tmp_path / "out").read_text().split("\n")
                   if line)
    assert written == expected
    [zygote] = _children(process.pid)
    assert _name(zygote) == "harness-zygote"
    assert seen and {name for _, name in seen} == {"sdk-harness"}
    started = re.findall(r"harness (\d+) started for worker (\S+)", log.read_text())
    assert {int(pid) for pid, _ in started} >= {pid for pid, _ in seen}
    # A harness leaves once the job service closes its channels, which may be after the run
    # returned, and the pool logs its end when it reaps it.
    deadline = time.monotonic() + 30
    while not all(f"harness {pid} ended with status 0" in log.read_text() for pid, _ in started):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    assert sorted(p.name for p in harness_logs.iterdir()) == [
        f"harness-{i}.log" for i in range(1, len(started) + 1)]


def test_a_killed_harness_is_started_again_and_stopping_the_pool_leaves_no_process(pool, tmp_path):
    process, port, log, _ = pool
    run = _run(port, tmp_path / "out", pause=0.01)  # about 10 s of work
    deadline = time.monotonic() + 60
    victim = None
    while victim is None:
        assert time.monotonic() < deadline and run.poll() is None, "no harness to kill"
        harnesses = [pid for zygote in _children(process.pid) for pid in _children(zygote)]
        victim = harnesses[0] if harnesses else None
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not re.search(rf"harness {victim} ended with status -9\n.*harness \d+ started",
                        log.read_text(), re.S):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    worker = re.search(rf"harness {victim} started for worker (\S+)", log.read_text())[1]
    restarted = re.findall(rf"harness (\d+) started for worker {worker} ", log.read_text())
    assert len(restarted) == 2 and int(restarted[1]) != victim
    run.kill()
    run.wait()
    group = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True)
    assert len(group.stdout.split()) >= 2  # the pool and its zygote, at least
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "a harness or the zygote outlived the pool"
        time.sleep(0.1)
