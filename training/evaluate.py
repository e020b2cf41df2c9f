"""Held-out evaluation: the causal-LM loss of each component on sequences never trained on.

The held-out sequences come from ``training.data.holdout.split``. Every component's are
read in order and split over the ranks round by round: in each round the ranks take
consecutive slices of ``batch_size`` sequences. Under FSDP every forward is collective, so
every rank runs the same number of forwards; a rank whose slice of the last round is empty
runs one on a stand-in sequence whose targets are all ignored. The loss is the same plain
causal LM for every component whatever objective trains it, so components and runs with
different objectives compare (tokens marked ``no_loss`` are left out, as in training), and
it is a per-token mean over all ranks (``training.metrics.GroupLosses``), so it does not
depend on the number of ranks.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from training.attention import attention_mask
from training.data.holdout import Sequences
from training.data.loader import MixtureLoader, collate
from training.metrics import GroupLosses, sequence_losses
from training.objectives.example import IGNORE_INDEX, Example

EVAL_OBJECTIVE = "clm"


@torch.no_grad()
def evaluate(model: torch.nn.Module, heldout: Mapping[str, Sequences], *,
             loader: MixtureLoader, batch_size: int, device: torch.device, rank: int,
             world_size: int, document_mask: bool) -> dict[str, float]:
    """The mean causal-LM loss per token of each component's held-out sequences.

    Collective: every rank calls it with the same arguments but its own ``rank``.

    Args:
        model: the (sharded) model; left in training mode afterwards.
        heldout: held-out sequences by component name; components without any are skipped.
        loader: the run's loader: examples are made as it makes them (seed, settings).
        batch_size: sequences per forward on each rank.
        device: where batches go.
        rank: this rank.
        world_size: number of ranks.
        document_mask: attend within documents only, as in training
            (``training.document_mask``).

    Returns:
        ``{"eval/<component>": loss}`` for each component with held-out sequences.
    """
    names = [name for name, sequences in heldout.items() if len(sequences)]
    totals = GroupLosses(names, device)
    model.eval()
    for group, name in enumerate(names):
        sequences = heldout[name]
        per_round = batch_size * world_size
        for start in range(0, len(sequences), per_round):
            first = start + rank * batch_size
            examples = [_example(loader, sequences, i)
                        for i in range(first, min(first + batch_size, len(sequences)))]
            if not examples:  # this rank's slice of the last round is empty
                example = _example(loader, sequences, 0)
                examples = [example._replace(targets=np.full_like(example.targets,
                                                                  IGNORE_INDEX))]
            batch = collate(examples, [group] * len(examples)).to(device)
            mask = attention_mask(batch.inputs, prefix=None, document_mask=document_mask,
                                  specials=loader.specials)
            losses = sequence_losses(model(batch.inputs, mask), batch.targets)
            totals.add(batch.group, losses, (batch.targets != IGNORE_INDEX).sum(dim=1))
    model.train()
    return {f"eval/{name}": loss for name, loss in totals.means().items()}


def _example(loader: MixtureLoader, sequences: Sequences, i: int) -> Example:
    # The index is the sequence's place in the held-out part: CLM draws nothing from it.
    sequence = sequences[i]
    return loader.example(EVAL_OBJECTIVE, sequence.tokens, i, no_loss=sequence.no_loss)
