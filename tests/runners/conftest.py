"""Fixtures shared by the runner tests."""

from __future__ import annotations

import pytest

from clusters import direct_then
from corpus import make_corpus


@pytest.fixture(scope="session")
def planted(tmp_path_factory):
    """The generated corpus (exact and near copies planted) and DirectRunner's output:
    ``(config, out, bytes by path)``."""
    config = make_corpus(tmp_path_factory.mktemp("planted"))
    out = config.parent / "out"
    return config, out, direct_then(config, out)
