"""Run ``codemix`` held at a named point, so a test can signal it there.

    python tests/paused.py POINT FOLDER codemix-args...

At POINT the process creates ``FOLDER/reached`` and then blocks opening the named pipe
``FOLDER/go`` until the test opens it for writing: the test knows where the build is when
it sends SIGKILL, SIGINT or SIGTERM, without sleeping or timing. Points:
``shards`` (before the first shard is written), ``finish`` (the staged build complete, the
pipeline not yet done), ``publish`` (inside the publish: files moved, manifest not yet) of
a build, and ``verify`` (after the first shard is checked) of ``codemix shards verify``.
Tests call ``start`` and ``release``.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from codemix.cli import main  # noqa: E402
from pipelines import sharding, staging, transforms  # noqa: E402
from shards import verify  # noqa: E402

PATCHED = {"shards": (sharding, "_write_group"), "finish": (transforms, "finish"),
           "publish": (staging, "_remove_empty_folders"), "verify": (verify, "_check_shard")}


def start(point: str, folder: pathlib.Path, *argv: str) -> subprocess.Popen:
    """``codemix argv...`` in a subprocess (pipes for stdout and stderr), returned once it
    is held at ``point``; ``folder`` must not exist yet."""
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, __file__, point, str(folder), *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (folder / "reached").exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    return proc


def release(folder: pathlib.Path) -> None:
    """Let the process held in ``folder`` go on."""
    with open(folder / "go", "w"):
        pass


def held(fn, folder: pathlib.Path):
    """``fn`` that, the first time it is called, pauses before returning its result."""
    def wrapper(*args, **kwargs):
        result = fn(*args, **kwargs)
        if not (folder / "reached").exists():
            (folder / "reached").touch()
            with open(folder / "go") as go:  # blocks until the test opens it to write
                go.read()
        return result
    return wrapper


if __name__ == "__main__":
    point, folder = sys.argv[1], pathlib.Path(sys.argv[2])
    os.mkfifo(folder / "go")
    module, name = PATCHED[point]
    setattr(module, name, held(getattr(module, name), folder))
    sys.exit(main(sys.argv[3:]))
