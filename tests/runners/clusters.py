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
import subprocess
from collections.abc import Iterator

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "local-cluster.sh"


def script(*args: str, env: dict[str, str] | None = None,
           timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@contextlib.contextmanager
def running(engine: str, workers: int = 2) -> Iterator[list[str]]:
    try:
        up = script(engine, "up", str(workers))
        assert up.returncode == 0, up.stderr
        yield shlex.split(up.stdout.strip().splitlines()[-1])
    finally:
        script(engine, "down")


def harness_pids(engine: str) -> list[int]:
    """The SDK harness processes the engine's worker pool has started and that still run."""
    pool = pathlib.Path(os.environ.get("CODEMIX_CACHE", pathlib.Path.home() / ".cache/codemix"))
    pool_pid = (pool / "clusters" / engine / "worker-pool.pid").read_text().strip()
    found = subprocess.run(["pgrep", "-P", pool_pid], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]

