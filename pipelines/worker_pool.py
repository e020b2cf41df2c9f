"""A pool of Python SDK harness processes for Beam's EXTERNAL environment on one machine.

``python -m pipelines.worker_pool --port 50000`` serves Beam's ``BeamFnExternalWorkerPool``:
every Flink task manager or Spark executor that runs Python work asks it for a harness, and
it starts one process per request, connected to that caller's control endpoint.

Why not Beam's own ``worker_pool_main``: every engine process numbers its workers from
``1-1``, so two Spark executors ask for the same worker id. Beam's pool keeps one process per
id: the second request replaces the first in its table, and the first executor's
``StopWorker`` then kills the second executor's harness in the middle of its work. It also
pipes each harness's stdout without reading it, which blocks a harness that prints enough.

Here a harness is owned by the control endpoint it serves. It ends by itself when its
engine closes that endpoint (the harness's control stream ends), so ``StopWorker`` only
forgets finished processes; the pool kills what is left when it stops. Each harness logs to
its own file under ``--log-dir``.

A harness that dies (killed, out of memory) is started again for the same endpoint, up to
``RESTARTS`` times: an engine that asked for it waits for it without a time limit (Beam's
``ExternalEnvironmentFactory``), so one that died before connecting would hang its task
for good. One that died in the middle of a bundle has failed that task already, and the
engine retries the task; its replacement connects to an endpoint nobody waits on any more
and ends with it.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc

RESTARTS = 3
"""How often a harness that died is started again for the same request."""

HARNESS = ("from apache_beam.runners.worker.sdk_worker import SdkHarness; "
           "SdkHarness({control!r}, worker_id={worker_id!r}, state_cache_size=0, "
           "data_buffer_time_limit_ms=-1).run()")


class WorkerPool(beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolServicer):
    """Starts one harness process per request; never stops a harness it did not start."""

    def __init__(self, log_dir: Path):
        self._log_dir = log_dir
        self._processes: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._stopping = threading.Event()

    def StartWorker(self, request, context):  # noqa: N802 (gRPC's method name)
        command = [sys.executable, "-c", HARNESS.format(
            control=request.control_endpoint.url, worker_id=request.worker_id)]
        try:
            process = self._start(command)
        except OSError as err:
            return beam_fn_api_pb2.StartWorkerResponse(error=f"cannot start a harness: {err}")
        threading.Thread(target=self._watch, args=(command, process), daemon=True).start()
        return beam_fn_api_pb2.StartWorkerResponse()

    def _start(self, command: list[str]) -> subprocess.Popen:
        log = self._log_dir / f"harness-{next(self._serial)}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        with self._lock:
            self._processes = [p for p in self._processes if p.poll() is None] + [process]
        return process

    def _watch(self, command: list[str], process: subprocess.Popen) -> None:
        """Start the harness again while it dies (status not 0), ``RESTARTS`` times."""
        for _ in range(RESTARTS):
            if process.wait() == 0 or self._stopping.is_set():
                return
            try:
                process = self._start(command)
            except OSError:
                return

    def StopWorker(self, request, context):  # noqa: N802
        # Ids are not unique across engine processes; a harness exits with its endpoint.
        with self._lock:
            self._processes = [p for p in self._processes if p.poll() is None]
        return beam_fn_api_pb2.StopWorkerResponse()

    def stop_all(self) -> None:
        self._stopping.set()
        with self._lock:
            for process in self._processes:
                process.kill()
            for process in self._processes:
                process.wait()
            self._processes = []


def serve(port: int, log_dir: Path) -> None:
    """Serve until SIGTERM or SIGINT, then kill the harnesses still running."""
    log_dir.mkdir(parents=True, exist_ok=True)
    pool = WorkerPool(log_dir)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        sys.exit(f"worker pool: cannot listen on 127.0.0.1:{port}")
    server.start()
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=None)
    pool.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-dir", type=Path, required=True)
    args = parser.parse_args()
    serve(args.port, args.log_dir)


if __name__ == "__main__":
    main()
