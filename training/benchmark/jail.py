"""The child side of ``training.benchmark.sandbox``: limit this process, then run a program.

Run as a script by ``sandbox.run_program`` (``python -I -S jail.py LIMITS_JSON PROGRAM``,
in a fresh temporary working directory, possibly under ``unshare --net``); never imported.
Only the standard library is used, since ``-S`` leaves site-packages off the path.

In order:

1. set the resource limits, soft and hard, so the program cannot raise them again;
2. install an audit hook (PEP 578) that refuses sockets, ctypes, new processes and signals;
3. move stdout to /dev/null, keeping the original as the verdict channel, and run the
   program; only a program that runs to its end writes the verdict. An exception,
   ``sys.exit``/``exit()`` with any status or ``os._exit`` leaves none and so fails.
"""

import json
import os
import resource
import sys
import traceback  # imported before the program runs, which may break the import machinery

VERDICT = b"sandbox: ran to the end\n"

_BLOCKED = ("socket.", "ctypes.", "subprocess.", "os.fork", "os.exec", "os.posix_spawn",
            "os.spawn", "os.system", "os.kill", "signal.pthread_kill", "pty.", "urllib.",
            "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.",
            "webbrowser.")
"""Audit events the program may not raise (prefixes). Where the kernel enforces a limit
(``RLIMIT_NPROC`` for a user other than root, a network namespace), this hook only names
the refusal; elsewhere it is the refusal (see ``sandbox``)."""


def _refuse(event: str, args: tuple) -> None:
    if event.startswith(_BLOCKED):
        raise PermissionError(f"sandbox: {event} is not allowed")


def main() -> None:
    limits = json.loads(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        source = f.read()
    seconds = limits["cpu_seconds"]
    for name, soft, hard in (("RLIMIT_CPU", seconds, seconds + 1),
                             ("RLIMIT_AS", limits["memory_bytes"], limits["memory_bytes"]),
                             ("RLIMIT_FSIZE", limits["file_bytes"], limits["file_bytes"]),
                             ("RLIMIT_NOFILE", limits["open_files"], limits["open_files"]),
                             ("RLIMIT_NPROC", 0, 0),  # no fork, no thread
                             ("RLIMIT_CORE", 0, 0)):
        resource.setrlimit(getattr(resource, name), (soft, hard))
    verdict = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.addaudithook(_refuse)
    code = compile(source, "program.py", "exec")
    del source, limits
    try:
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    except BaseException:  # SystemExit too: a program that exits has not passed
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os.write(verdict, VERDICT)
    os._exit(0)  # skip interpreter teardown, which the program's objects could hook


if __name__ == "__main__":
    main()
