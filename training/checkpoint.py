"""Checkpoints with ``torch.distributed.checkpoint`` (DCP): model, optimizer, trainer state.

A checkpoint is a folder ``<checkpoint_dir>/step-NNNNNN`` that every rank writes its shards
into; DCP's ``.metadata`` file, written last by the coordinator, completes it. Model and
optimizer state come from ``get_state_dict`` (sharded DTensors under FSDP2, so nothing is
gathered on one rank) and go back with ``set_state_dict``; DCP reshards on load, so a run
can resume on any world size that divides the global batch.

Each checkpoint also holds ``run.json``, written before the weights (so a complete
checkpoint always has it): the run's resolved training config, with the manifest's
absolute path and sha256. ``generate`` and ``infill`` need nothing else.

The trainer state (step, seed, global batch size, manifest and mixture hashes, data
position) is stored beside them and read first on load: a checkpoint from another manifest,
mixture, seed or global batch size is refused with one line before any weight is touched,
since resuming it would not continue the same sample sequence.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import FileSystemReader
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

from training.config import ConfigError

_METADATA = ".metadata"
RUN_FILE = "run.json"


class CheckpointError(ConfigError):
    """A checkpoint is missing or does not belong to this run; the message is one line.

    A ``ConfigError`` because the user chose it (``training.resume_from``)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainerState:
    """What a checkpoint records besides model and optimizer.

    Attributes:
        step: optimizer steps completed.
        seed: the run's seed (sampler, objectives).
        global_batch_size: sequences per step over all ranks.
        manifest_sha256: ``Manifest.sha256()`` of the corpus trained on.
        mixture_sha256: ``MixturePlan.sha256()`` (components, sequence and sample counts).
        data: the data loader's ``state_dict()``.
    """

    step: int
    seed: int
    global_batch_size: int
    manifest_sha256: str
    mixture_sha256: str
    data: dict[str, Any]

    def check_matches(self, other: "TrainerState", path: str) -> None:
        """Refuse to resume ``self`` (saved at ``path``) in a run described by ``other``."""
        for field, what in (("manifest_sha256", "manifest"), ("mixture_sha256", "mixture"),
                            ("seed", "seed"), ("global_batch_size", "global batch size")):
            saved, current = getattr(self, field), getattr(other, field)
            if saved != current:
                if isinstance(saved, str):
                    saved, current = saved[:12] + "…", current[:12] + "…"
                raise CheckpointError(f"checkpoint {path} was written with {what} {saved}, "
                                      f"this run has {current}; refusing to resume")


_PLACEHOLDER = TrainerState(step=0, seed=0, global_batch_size=0, manifest_sha256="",
                            mixture_sha256="", data={"step": 0, "global_batch_size": 0})


def checkpoint_path(folder: str, step: int) -> str:
    """Folder of the checkpoint after ``step`` steps."""
    return os.path.join(folder, f"step-{step:06d}")


def complete(folder: str) -> list[str]:
    """The complete checkpoints in ``folder`` (DCP's metadata written), fewest steps first."""
    names = sorted(name for name in (os.listdir(folder) if os.path.isdir(folder) else ())
                   if name.startswith("step-")
                   and os.path.isfile(os.path.join(folder, name, _METADATA)))
    return [os.path.join(folder, name) for name in names]


def latest(folder: str) -> str | None:
    """The complete checkpoint of ``folder`` with the most steps, or None."""
    return (complete(folder) or [None])[-1]


def prune(folder: str, keep: int) -> list[str]:
    """Remove all but the ``keep`` newest complete checkpoints of ``folder`` (0 keeps all);
    returns the folders removed. Incomplete ones (a killed save) are left alone."""
    done = complete(folder)
    removed = done[:-keep] if keep else []
    for path in removed:
        shutil.rmtree(path)
    return removed


def save(path: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         state: TrainerState, run: dict[str, Any]) -> None:
    """Write a checkpoint; collective: every rank of the group calls it.

    Args:
        path: checkpoint folder (created).
        model: the (FSDP-sharded) model.
        optimizer: its optimizer.
        state: trainer state; ``state.data`` must have the keys of the loader's state dict.
        run: what ``run.json`` holds (``read_run``): ``config`` (the resolved training
            config as plain values), ``manifest`` and ``manifest_sha256``; rank 0 writes it.
    """
    if not dist.is_initialized() or dist.get_rank() == 0:
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, RUN_FILE), "w", encoding="utf-8") as f:
            json.dump(run, f, sort_keys=True, indent=2)
    model_state, optim_state = get_state_dict(model, optimizer)
    with warnings.catch_warnings():
        # Re-running a config rewrites its own checkpoints; that is intended, not news.
        warnings.filterwarnings("ignore", message="Detected an existing checkpoint")
        dcp.save({"model": model_state, "optim": optim_state,
                  "trainer": dataclasses.asdict(state)}, checkpoint_id=path)


def check_model_tensors(path: str, shapes: Mapping[str, Sequence[int]], *,
                        hint: str) -> set[str]:
    """Refuse, in one line, a checkpoint that lacks a model tensor ``shapes`` names or holds
    it in another shape, before any weight is read.

    Args:
        path: checkpoint folder.
        shapes: model tensor name (as checkpoints write it: ``layers.0.attn.wqkv.weight``)
            -> the shape the caller needs.
        hint: ends the error line: what the user should change.

    Returns:
        The names of every model tensor the checkpoint holds (for a caller that also
        refuses extra ones).

    Raises:
        CheckpointError: no checkpoint at ``path``, a tensor missing or of another shape.
    """
    if not os.path.isfile(os.path.join(path, _METADATA)):
        raise CheckpointError(f"no checkpoint at {path}")
    saved = FileSystemReader(path).read_metadata().state_dict_metadata
    for name, shape in shapes.items():
        meta = saved.get(f"model.{name}")
        if meta is None:
            raise CheckpointError(f"checkpoint {path} has no {name}; {hint}")
        if tuple(meta.size) != tuple(shape):
            raise CheckpointError(f"checkpoint {path} has {name} of shape {list(meta.size)}, "
                                  f"not {list(shape)}; {hint}")
    return {k[len("model."):] for k in saved if k.startswith("model.")}


def read_run(path: str) -> dict[str, Any] | None:
    """The ``run.json`` of the checkpoint at ``path`` (see ``save``); None when it has none
    (written before checkpoints stored their run)."""
    try:
        with open(os.path.join(path, RUN_FILE), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def read_state(path: str, *, no_dist: bool = False) -> TrainerState:
    """The trainer state of a checkpoint, without loading weights.

    Args:
        path: checkpoint folder.
        no_dist: read without a process group (the launcher, before workers start).
    """
    if not os.path.isfile(os.path.join(path, _METADATA)):
        raise CheckpointError(f"no checkpoint at {path}")
    holder = {"trainer": dataclasses.asdict(_PLACEHOLDER)}
    with warnings.catch_warnings():
        # Without a group DCP warns that it assumes one process, which is what we want.
        warnings.simplefilter("ignore", UserWarning)
        dcp.load(holder, checkpoint_id=path, no_dist=no_dist)
    return TrainerState(**holder["trainer"])


def load(path: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         expected: TrainerState) -> TrainerState:
    """Restore model and optimizer from ``path`` if it belongs to this run; collective.

    Args:
        path: checkpoint folder written by ``save``.
        model: the model, sharded the same way as when training (any world size).
        optimizer: its optimizer.
        expected: this run's state; its manifest and mixture hashes, seed and global batch
            size must equal the checkpoint's (step and data are ignored).

    Returns:
        The checkpoint's trainer state (step and data position to continue from).

    Raises:
        CheckpointError: no checkpoint at ``path``, or it belongs to another run.
    """
    saved = read_state(path)
    saved.check_matches(expected, path)
    model_state, optim_state = get_state_dict(model, optimizer)
    holder = {"model": model_state, "optim": optim_state}
    dcp.load(holder, checkpoint_id=path)
    set_state_dict(model, optimizer, model_state_dict=holder["model"],
                   optim_state_dict=holder["optim"])
    return saved
