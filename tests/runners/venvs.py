"""Virtual environments for the runner tests, made the way a user or a worker makes them.

They are clean (no ``--system-site-packages``), so a dependency missing from setup.cfg fails
here, not on a cluster's worker. pip's own cache makes making one again take about a minute
instead of several; ``cached`` keeps one under ``.cache/venvs/`` (git-ignored) between runs
and makes it again when what it was made from changes.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def create(path: pathlib.Path, *requirements: str) -> pathlib.Path:
    """Make a venv at ``path`` and pip-install ``requirements`` into it.

    Args:
        path: a folder that does not exist yet.
        requirements: pip install arguments: requirement specifiers, archives, ``-e DIR``.

    Returns:
        The venv's python.
    """
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *requirements], check=True)
    return python


def cached(name: str, *requirements: str) -> pathlib.Path:
    """The python of ``.cache/venvs/NAME``, made by ``create`` unless the one there was made
    from the same ``requirements`` and the same setup.cfg (they may install this project)."""
    path = REPO / ".cache" / "venvs" / name
    stamp = path / "codemix-requirements.sha256"
    key = hashlib.sha256(json.dumps(
        [requirements, (REPO / "setup.cfg").read_text()]).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == key:
        return path / "bin" / "python"
    shutil.rmtree(path, ignore_errors=True)
    python = create(path, *requirements)
    stamp.write_text(key)
    return python
