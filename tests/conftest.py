"""Fixtures shared across the suite: one real Beam build of the generated corpus."""

from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from corpus import make_corpus  # noqa: E402


@pytest.fixture(scope="session")
def built_corpus(tmp_path_factory) -> pathlib.Path:
    """Output folder of a DirectRunner build of the generated corpus (built once)."""
    from pipelines.main import run

    root = tmp_path_factory.mktemp("corpus")
    config = make_corpus(root)
    assert run([str(config)]) == 0
    return root / "out"
