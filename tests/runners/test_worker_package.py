"""The worker package, as Beam stages it for ``--setup_file``, installs into a clean venv
and every build stage imports and runs there.

Dataflow, Spark and Flink workers get nothing of this checkout but that package and what
pip resolves from its ``install_requires``. A module that imports something only the main
venv has, a grammar missing from the requirements, or a data file left out of the package
would fail an hour into a cluster run; here it fails in a few minutes. The venv is new for
every run (not cached): a stale one would hide exactly those faults. torch must never be
resolved there (an unpinned torch is GBs of CUDA wheels), so it is checked for by name.
"""

from __future__ import annotations

import json
import pathlib
import subprocess

from apache_beam.runners.portability.stager import Stager

from stage_imports import DATA, PACKAGES, SNIPPETS
from venvs import REPO, create


def test_worker_package_installs_cleanly_and_every_stage_imports(tmp_path):
    # NOTE: Beam's own sdist step for --setup_file, so this is the file workers get.
    sdist = Stager._build_setup_package(str(REPO / "setup.py"), str(tmp_path))
    python = create(tmp_path / "venv", sdist)

    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"],
                               capture_output=True, text=True, check=True)
    names = {p["name"].lower() for p in json.loads(installed.stdout)}
    assert "torch" not in names
    assert {"apache-beam", "tree-sitter-python", "tree-sitter-javascript"} <= names
    # Run outside the checkout, so only the installed package can be imported.
    run = subprocess.run([str(python), str(pathlib.Path(__file__).with_name("stage_imports.py"))],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)

    modules = found["modules"]
    assert all(path.startswith(str(tmp_path / "venv" / "lib")) for path in modules.values())
    files = [p.relative_to(REPO).with_suffix("") for package in PACKAGES
             for p in (REPO / package).rglob("*.py") if p.stem != "__main__"]
    assert set(modules) == {".".join(f.parts[:-1] if f.name == "__init__" else f.parts)
                            for f in files}
    assert found["parsed"] == {lang: {"functions": ["add"] if lang in SNIPPETS else [],
                                      "has_error": False} for lang in (*SNIPPETS, *DATA)}
    assert found["humaneval_runs"] > 0
    assert not found["torch_imported"]
