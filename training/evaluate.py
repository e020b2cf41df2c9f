"""Held-out evaluation: the causal-LM loss of each component on sequences never trained on.

The held-out sequences come from ``training.data.holdout.split``. Every component's are
read in order and split over the ranks round by round: in each round the ranks take
consecutive slices of ``batch_size`` sequences. Under FSDP every forward is collective, so
every rank runs the same number of forwards; a rank whose slice of the last round is empty
runs one on a stand-in sequence whose targets are all ignored. The loss is the same plain
causal LM for every component whatever objective trains it, so components and runs with
different objectives compare (tokens marked ``no_loss`` are left out, as in training), and
it is a per-token mean over all ranks (``training.metrics.GroupLosses``), so it does not
depend on the number of ranks. An encoder-decoder's is the same for its kind: the loss of
``seq2seq_lm`` (the decoder generating the window after a pivot drawn from the run's seed
and the sequence's held-out index, the encoder reading the part before), whatever
objectives train it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from training.data.holdout import Sequences
from training.data.loader import Batch, MixtureLoader, collate
from training.metrics import GroupLosses, sequence_losses
from training.objectives.example import IGNORE_INDEX, Example, Seq2SeqExample
from training.trainer import batch_logits

EVAL_OBJECTIVE = "clm"
SEQ2SEQ_EVAL_OBJECTIVE = "seq2seq_lm"


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
                examples = [_silenced(_example(loader, sequences, 0))]
            batch = _collate(loader, examples, group, window=len(sequences[0].tokens))
            batch = batch.to(device)
            losses = sequence_losses(batch_logits(model, batch, document_mask=document_mask,
                                                  specials=loader.specials), batch.targets)
            totals.add(batch.group, losses, (batch.targets != IGNORE_INDEX).sum(dim=1))
    model.train()
    return {f"eval/{name}": loss for name, loss in totals.means().items()}


def _example(loader: MixtureLoader, sequences: Sequences, i: int) -> Example | Seq2SeqExample:
    # The index is the sequence's place in the held-out part: CLM draws nothing from it,
    # seq2seq_lm its pivot, the same in every evaluation of the run.
    sequence = sequences[i]
    objective = SEQ2SEQ_EVAL_OBJECTIVE if loader.seq2seq else EVAL_OBJECTIVE
    return loader.example(objective, sequence.tokens, i, no_loss=sequence.no_loss)


def _silenced(example: Example | Seq2SeqExample) -> Example | Seq2SeqExample:
    """``example`` with no target taking loss (a stand-in that only keeps FSDP in step)."""
    if isinstance(example, Seq2SeqExample):
        return example._replace(no_loss=np.ones(len(example.targets), dtype=bool))
    return example._replace(targets=np.full_like(example.targets, IGNORE_INDEX))


def _collate(loader: MixtureLoader, examples: list, group: int, *, window: int) -> Batch:
    """The examples of one component (group ``group``) as a batch of the run's kind."""
    groups = [group] * len(examples)
    if loader.seq2seq:
        return loader.collate_seq2seq(examples, groups, window=window,
                                      objectives=(SEQ2SEQ_EVAL_OBJECTIVE,))
    return collate(examples, groups)
