"""Local Flink and Spark clusters for the runner tests, started by the project's own script.

``running(engine, workers)`` brings one up with ``scripts/local-cluster.sh`` and always brings
it down again, also when the test fails; it yields the ``codemix build`` options the script
printed as its last line.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shlex
import shutil
import subprocess
from collections.abc import Iterator

import yaml

from snapshot import snapshot  # noqa: F401 -- the runner tests import it from here

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "local-cluster.sh"


def script(*args: str, env: dict[str, str] | None = None,
           timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def state(engine: str) -> pathlib.Path:
    """The script's folder for a cluster of ``engine``: pid files, logs, scratch space."""
    cache = pathlib.Path(os.environ.get("CODEMIX_CACHE", pathlib.Path.home() / ".cache/codemix"))
    return cache / "clusters" / engine


def _executor_logs(engine: str) -> set[str]:
    return {p.name for p in (state(engine) / "executors").glob("*-stderr")}


@contextlib.contextmanager
def running(engine: str, workers: int = 2) -> Iterator[list[str]]:
    logs = _executor_logs(engine)
    try:
        up = script(engine, "up", str(workers))
        assert up.returncode == 0, up.stderr
        yield shlex.split(up.stdout.strip().splitlines()[-1])
    finally:
        script(engine, "down")
    # After a run that passed: the jobs' scratch (shuffle files, RocksDB state and logs,
    # executors' copies of the jars) went with the cluster, the Spark executors' logs stay.
    assert not (state(engine) / "tmp").exists(), sorted((state(engine) / "tmp").iterdir())
    assert (engine != "spark") or _executor_logs(engine) > logs


def harness_pids(engine: str) -> list[int]:
    """The SDK harness processes the engine's worker pool has started and that still run."""
    pool_pid = (state(engine) / "worker-pool.pid").read_text().strip()
    # Harnesses are forked by the pool's zygote and named for pgrep (pipelines/worker_pool.py).
    found = subprocess.run(["pgrep", "-x", "-g", pool_pid, "sdk-harness"], capture_output=True,
                           text=True)
    return [int(pid) for pid in found.stdout.split()]


def direct_then(config: pathlib.Path, out: pathlib.Path) -> dict[str, bytes]:
    """Build ``config`` on DirectRunner (one process), keep its bytes, empty ``out``."""
    from pipelines.main import run
    assert run([str(config)]) == 0
    expected = snapshot(out)
    shutil.rmtree(out)
    return expected


def demo_config(folder: pathlib.Path) -> pathlib.Path:
    """The demo config, writing under ``folder``."""
    spec = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    spec["output"] = str(folder / "out")
    config = folder / "demo.yaml"
    config.write_text(yaml.safe_dump(spec, sort_keys=False))
    return config
