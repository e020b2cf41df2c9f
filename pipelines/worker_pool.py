"""A pool of Python SDK harness processes for Beam's EXTERNAL environment on one machine.

``python -m pipelines.worker_pool --port 50000`` serves Beam's ``BeamFnExternalWorkerPool``:
every Flink task manager or Spark executor that runs Python work asks it for a harness, and
it starts one process per request, connected to that caller's control endpoint.

Why not Beam's own ``worker_pool_main``: every engine process numbers its workers from
``1-1``, so two Spark executors ask for the same worker id. Beam's pool keeps one process per
id: the second request replaces the first in its table, and the first executor's
``StopWorker`` then kills the second executor's harness in the middle of its work. It also
pipes each harness's stdout without reading it, which blocks a harness that prints enough.

Harnesses are forked from a *zygote*, a process that has imported Beam's harness and
codemix's stages once. A Spark executor asks for a new harness for every task (keeping one
between tasks would send the engine's retries to a harness that died, see the README), and
a fresh interpreter spends about a CPU-second importing the same modules before it does any
work; a fork starts with them loaded. The zygote creates no gRPC channel and runs no thread
before it forks, so its children start with a clean gRPC core.

Here a harness is owned by the control endpoint it serves. It ends by itself when its
engine closes that endpoint (the harness's control stream ends), so ``StopWorker`` only
forgets finished processes; the pool kills what is left when it stops. Each harness logs to
its own file under ``--log-dir``, and the pool logs each start and end to its stdout.

A harness that dies (killed, out of memory) is started again for the same endpoint, up to
``RESTARTS`` times: an engine that asked for it waits for it without a time limit (Beam's
``ExternalEnvironmentFactory``), so one that died before connecting would hang its task
for good. One that died in the middle of a bundle has failed that task already, and the
engine retries the task; its replacement connects to an endpoint nobody waits on any more
and ends with it.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import itertools
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc

RESTARTS = 3
"""How often a harness that died is started again for the same request."""

PRELOAD = ("apache_beam.runners.worker.sdk_worker", "pipelines.main")
"""Modules the zygote imports once for every harness it forks: Beam's harness and every
codemix stage a pipeline's DoFns come from."""

HARNESS_NAME = b"sdk-harness"
ZYGOTE_NAME = b"harness-zygote"
"""Process names (``/proc/PID/comm``, what ``ps`` and ``pgrep`` match) of the forked
harnesses and of the zygote, which share the zygote's command line."""

REPLY_SECONDS = 60
"""How long the pool waits for the zygote to fork a harness before it gives up."""


@dataclass
class Request:
    """What a harness is started for, again if it dies."""
    control: str
    worker_id: str
    log: Path
    restarts_left: int = RESTARTS


# ----------------------------------------------------------------------- zygote side


def _set_name(name: bytes) -> None:
    """Name this process for ``ps`` and ``pgrep`` (Linux's PR_SET_NAME; elsewhere a no-op)."""
    try:
        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _harness(request: dict) -> None:
    """The forked child: log to the request's file and serve its control endpoint."""
    code = 1
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        _set_name(HARNESS_NAME)
        from apache_beam.runners.worker.sdk_worker import SdkHarness
        SdkHarness(request["control"], worker_id=request["worker_id"], state_cache_size=0,
                   data_buffer_time_limit_ms=-1).run()
        code = 0
    except BaseException:  # noqa: BLE001 (the child must reach os._exit whatever happens)
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _tell(message: dict) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def zygote() -> None:
    """Import ``PRELOAD``, then fork a harness for each request line on stdin and report
    ``{"pid": N}`` for it, and ``{"exited": N, "code": C}`` when one ends, on stdout. Ends,
    killing its harnesses, when stdin closes (the pool is gone)."""
    _set_name(ZYGOTE_NAME)
    for module in PRELOAD:
        importlib.import_module(module)
    children: set[int] = set()
    pending = b""
    while True:
        ready, _, _ = select.select([0], [], [], 0.2)
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                pid = os.fork()
                if pid == 0:
                    _harness(json.loads(line))
                children.add(pid)
                _tell({"pid": pid})
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            children.discard(pid)
            _tell({"exited": pid, "code": os.waitstatus_to_exitcode(status)})
    for pid in children:
        os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------------- pool side


class Zygote:
    """The pool's handle on its zygote process: fork a harness, hear when one ends."""

    def __init__(self, on_exit: Callable[[int, int, Request], None]):
        """``on_exit(pid, status, request)`` is called, in a thread of its own, whenever a
        harness ends."""
        self._on_exit = on_exit
        self._replies: queue.Queue[int] = queue.Queue()
        self._lock = threading.Lock()
        self._asked: Request | None = None
        self._running: dict[int, Request] = {}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.worker_pool", "--zygote"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        # One reader keeps the zygote's messages in order: a harness is registered before
        # the message of its end can be read.
        for line in self.process.stdout:
            message = json.loads(line)
            if "pid" in message:
                self._running[message["pid"]] = self._asked
                self._replies.put(message["pid"])
            else:
                request = self._running.pop(message["exited"])
                threading.Thread(target=self._on_exit, daemon=True,
                                 args=(message["exited"], message["code"], request)).start()

    def fork(self, request: Request) -> int:
        """Fork a harness for ``request``; its pid. Raises OSError if the zygote is gone."""
        line = json.dumps({"control": request.control, "worker_id": request.worker_id,
                           "log": str(request.log)}).encode() + b"\n"
        with self._lock:
            if self.process.poll() is not None:
                raise OSError(f"the harness zygote exited ({self.process.returncode})")
            self._asked = request
            self.process.stdin.write(line)
            self.process.stdin.flush()
            try:
                return self._replies.get(timeout=REPLY_SECONDS)
            except queue.Empty:
                raise OSError("the harness zygote did not answer") from None

    def stop(self) -> None:
        """Close its stdin: it kills its harnesses and exits."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


class WorkerPool(beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolServicer):
    """Forks one harness per request; never stops a harness it did not start."""

    def __init__(self, log_dir: Path):
        self._log_dir = log_dir
        self._serial = itertools.count(1)
        self._stopping = threading.Event()
        self._zygote = Zygote(self._ended)

    def StartWorker(self, request, context):  # noqa: N802 (gRPC's method name)
        wanted = Request(request.control_endpoint.url, request.worker_id,
                         self._log_dir / f"harness-{next(self._serial)}.log")
        try:
            self._start(wanted)
        except OSError as err:
            return beam_fn_api_pb2.StartWorkerResponse(error=f"cannot start a harness: {err}")
        return beam_fn_api_pb2.StartWorkerResponse()

    def _start(self, request: Request) -> None:
        pid = self._zygote.fork(request)
        _log(f"harness {pid} started for worker {request.worker_id} at {request.control}")

    def _ended(self, pid: int, code: int, request: Request) -> None:
        """Start the harness again while it dies (status not 0), ``RESTARTS`` times."""
        _log(f"harness {pid} ended with status {code}")
        if code == 0 or self._stopping.is_set() or not request.restarts_left:
            return
        request.restarts_left -= 1
        try:
            self._start(request)
        except OSError as err:
            _log(f"harness for worker {request.worker_id} not started again: {err}")

    def StopWorker(self, request, context):  # noqa: N802
        # Ids are not unique across engine processes; a harness exits with its endpoint.
        return beam_fn_api_pb2.StopWorkerResponse()

    def stop_all(self) -> None:
        """Kill every harness (the zygote does, when its stdin closes)."""
        self._stopping.set()
        self._zygote.stop()


def serve(port: int, log_dir: Path) -> None:
    """Serve until SIGTERM or SIGINT, then kill the harnesses still running."""
    log_dir.mkdir(parents=True, exist_ok=True)
    pool = WorkerPool(log_dir)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        pool.stop_all()
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
    parser.add_argument("--port", type=int)
    parser.add_argument("--log-dir", type=Path)
    parser.add_argument("--zygote", action="store_true",
                        help="(internal) be the process the pool forks harnesses from")
    args = parser.parse_args()
    if args.zygote:
        zygote()
    elif args.port is None or args.log_dir is None:
        parser.error("--port and --log-dir are required")
    else:
        serve(args.port, args.log_dir)


if __name__ == "__main__":
    main()
