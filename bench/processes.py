"""Processes of a run, for the benchmarks: local clusters started and stopped by
``scripts/local-cluster.sh``, and the peak RSS and CPU seconds of every process of a run."""

from __future__ import annotations

import os
import pathlib
import shlex
import subprocess
import threading

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local-cluster.sh"
CACHE = pathlib.Path(os.environ.get("CODEMIX_CACHE", pathlib.Path.home() / ".cache/codemix"))
TICK = os.sysconf("SC_CLK_TCK")


def cluster_up(engine: str, workers: int) -> tuple[list[str], set[int]]:
    """Start a local cluster; its ``codemix build`` options and its processes' sessions."""
    up = subprocess.run(["bash", str(SCRIPT), engine, "up", str(workers)],
                        capture_output=True, text=True)
    if up.returncode != 0:
        raise RuntimeError(up.stderr.strip())
    state = CACHE / "clusters" / engine
    return (shlex.split(up.stdout.strip().splitlines()[-1]),
            {int(p.read_text()) for p in state.glob("*.pid")})


def cluster_down(engine: str) -> None:
    subprocess.run(["bash", str(SCRIPT), engine, "down"], capture_output=True)


class Sampler:
    """Peak RSS and CPU seconds of every process in the given sessions, sampled twice a
    second (a harness that lives for less than that is missed: harnesses live for a job)."""

    def __init__(self, sessions: set[int]):
        self.sessions = sessions
        self.peak: dict[int, tuple[str, int]] = {}
        self.cpu: dict[int, float] = {}
        self.cpu_before: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._sample(into=self.cpu_before)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(into=self.cpu)

    def peaks(self) -> dict[str, int]:
        """Peak RSS in KiB by kind of process (the largest of each kind)."""
        peaks: dict[str, int] = {}
        for name, kib in self.peak.values():
            peaks[name] = max(peaks.get(name, 0), kib)
        return peaks

    def cpu_seconds(self) -> float:
        return sum(cpu - self.cpu_before.get(pid, 0.0) for pid, cpu in self.cpu.items())

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample(into=self.cpu)

    def _sample(self, into: dict[int, float]) -> None:
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                if int(fields[3]) not in self.sessions:
                    continue
                cpu = (int(fields[11]) + int(fields[12])) / TICK
                hwm = next(int(line.split()[1]) for line in
                           (entry / "status").read_text().splitlines()
                           if line.startswith("VmHWM"))
                name = _name((entry / "cmdline").read_bytes(),
                             (entry / "comm").read_text().strip())
            except (OSError, ValueError, StopIteration):
                continue
            pid = int(entry.name)
            into[pid] = cpu
            self.peak[pid] = (name, max(hwm, self.peak.get(pid, ("", 0))[1]))


def _name(cmdline: bytes, comm: str) -> str:
    # The worker pool's zygote and the harnesses it forks share its command line, not its name.
    if comm in ("sdk-harness", "harness-zygote"):
        return {"sdk-harness": "python-harness"}.get(comm, comm)
    args = [a.decode(errors="replace") for a in cmdline.split(b"\0") if a]
    for marker, label in (("TaskManagerRunner", "flink-taskmanager"),
                          ("StandaloneSessionClusterEntrypoint", "flink-jobmanager"),
                          ("FlinkJobServerDriver", "flink-job-server"),
                          ("SparkJobServerDriver", "spark-job-server (driver)"),
                          ("deploy.master.Master", "spark-master"),
                          ("deploy.worker.Worker", "spark-worker"),
                          ("CoarseGrainedExecutorBackend", "spark-executor"),
                          ("pipelines.worker_pool", "worker-pool"),
                          ("codemix", "codemix build")):
        if any(marker in a for a in args):
            return label
    return os.path.basename(args[0]) if args else "?"
