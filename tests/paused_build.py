"""Run ``codemix`` with the build held at a named point, so a test can signal it there.

    python tests/paused_build.py POINT FOLDER codemix-args...

At POINT the process creates ``FOLDER/reached`` and then blocks opening the named pipe
``FOLDER/go`` until the test opens it for writing: the test knows where the build is when
it sends SIGKILL, SIGINT or SIGTERM, without sleeping or timing. Points:
``shards`` (before the first shard is written), ``finish`` (the staged build complete, the
pipeline not yet done), ``publish`` (inside the publish: files moved, manifest not yet).
"""

from __future__ import annotations

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from codemix.cli import main  # noqa: E402
from pipelines import sharding, staging, transforms  # noqa: E402

PATCHED = {"shards": (sharding, "_write_group"), "finish": (transforms, "finish"),
           "publish": (staging, "_remove_empty_folders")}


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
