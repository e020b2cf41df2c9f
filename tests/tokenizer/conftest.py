"""Shared fixtures: a small tokenizer trained once per session on standard-library code."""

from __future__ import annotations

import pathlib
import sysconfig

import pytest
from tokenizers import Tokenizer

from tokenizer.train import train_bpe

STDLIB = pathlib.Path(sysconfig.get_paths()["stdlib"])
VOCAB_SIZE = 2000


def read_sources(pattern: str, limit: int) -> list[str]:
    """The first ``limit`` stdlib files matching ``pattern`` (sorted), newlines untouched."""
    return [p.read_bytes().decode("utf-8") for p in sorted(STDLIB.glob(pattern))[:limit]]


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    """About 1 MB of top-level standard-library modules."""
    return read_sources("*.py", 40)


@pytest.fixture(scope="session")
def held_out() -> list[str]:
    """Code the tokenizer was not trained on: packages, plus codec tables full of non-ASCII."""
    return (read_sources("json/*.py", 5) + read_sources("email/*.py", 10)
            + read_sources("encodings/cp12*.py", 5))


@pytest.fixture(scope="session")
def vocab_size() -> int:
    """The vocabulary size ``tok`` was trained for; the corpus is large enough to fill it."""
    return VOCAB_SIZE


@pytest.fixture(scope="session")
def tok(corpus: list[str], vocab_size: int) -> Tokenizer:
    return train_bpe(corpus, vocab_size)
