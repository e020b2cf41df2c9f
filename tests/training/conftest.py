"""Fixtures for the trainer's tests; the helpers behind them are in ``corpus_builder``."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch.distributed as dist
from corpus_builder import build_manifest, stdlib_texts, write_train_config


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real manifest of two components (stdlib code, its docstrings), vocab 512."""
    texts = stdlib_texts()
    return build_manifest(tmp_path_factory.mktemp("corpus"), texts, docs_per_shard=100,
                          mixing={"code-python": {"epochs": 1.0},
                                  "text-docs": {"weight": 0.25}})


@pytest.fixture
def make_manifest(tmp_path: Path):
    """``build_manifest`` writing into a fresh folder under ``tmp_path`` each call."""
    counter = iter(range(1_000_000))

    def make(texts: Mapping[str, Sequence[str]], **kwargs: Any) -> str:
        return build_manifest(tmp_path / f"corpus{next(counter)}", texts, **kwargs)

    return make


@pytest.fixture(scope="session")
def trained_checkpoint(tiny_manifest: str, tmp_path_factory: pytest.TempPathFactory
                       ) -> tuple[str, str]:
    """(config path, checkpoint folder) of a 1-process run of 4 steps on ``tiny_manifest``,
    for the commands that read checkpoints (``generate``, ``infill``, ``eval``)."""
    from training.train import main as train

    root = tmp_path_factory.mktemp("trained")
    cfg = write_train_config(root / "train.yaml", tiny_manifest, root / "train",
                             training={"steps": 4, "log_every": 2})
    assert train([cfg]) == 0
    return cfg, str(root / "train" / "checkpoints" / "step-000004")


@pytest.fixture
def group() -> Iterator[None]:
    """A real one-process gloo group (DCP and FSDP2 are collective)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0,
                            world_size=1)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
