"""Held-out sequences: a fixed slice of each component that training never samples.

``split`` divides every packed component into a training part and a held-out part. The
mixture plan is then made over the training parts only (``Corpus.mixture`` counts
``len(part)``), and the sampler's sequence ``k`` of a component is its training part's
``k``-th sequence, so no sample index of any epoch can reach a held-out sequence.

Which sequences are held out depends on the component's name, its number of sequences and
the count asked for, nothing else: a generator seeded by a hash of the name draws them
without replacement. The data seed is not used, so runs with different seeds evaluate on
the same sequences and their eval losses compare.

Trade-off: the unit is the packed sequence, not the document. A held-out sequence's tokens
are never trained on as targets (consecutive sequences share one token, which is the next
sequence's first input and never its target), but a document that crosses the boundary of
a held-out sequence is partly trained on, through its other part. Holding out whole
documents would need packing to skip them, for a small gain in a loss that is used to
compare runs on the same split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from training.data.packing import PackedSequence

HOLDOUT_KEY = 0x686F6C646F7574  # "holdout": keeps these draws apart from the sampler's


class Sequences(Protocol):
    """What the loader reads a component through: a packed component, or a part of one."""

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> PackedSequence: ...


class Part:
    """Some sequences of a component, by index, read through the component.

    Args:
        sequences: the whole component.
        indices: the sequences of this part, int64, ascending; ``part[k]`` is
            ``sequences[indices[k]]``.
    """

    def __init__(self, sequences: Sequences, indices: np.ndarray):
        self.sequences = sequences
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> PackedSequence:
        return self.sequences[int(self.indices[k])]


def heldout_indices(name: str, sequences: int, count: int) -> np.ndarray:
    """The held-out sequence indices of component ``name``.

    Args:
        name: the component's name (its hash seeds the draw).
        sequences: the component's number of packed sequences.
        count: how many to hold out (``training.eval_sequences``); at most half of the
            component is, so that a small component still has most of its data to train on.

    Returns:
        ``min(count, sequences // 2)`` distinct indices in ``[0, sequences)``, int64,
        ascending.
    """
    take = min(count, sequences // 2)
    key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
    rng = np.random.default_rng([HOLDOUT_KEY, key, sequences])
    return np.sort(rng.choice(sequences, size=take, replace=False)).astype(np.int64)


def split(components: Mapping[str, Sequences],
          count: int) -> tuple[dict[str, Part], dict[str, Part]]:
    """Hold out ``count`` sequences of every component (``heldout_indices``).

    Args:
        components: packed sequences by component name (``Corpus.packed``).
        count: sequences to hold out per component; 0 holds out nothing.

    Returns:
        ``(train, heldout)``: the two parts of each component, by name; together they hold
        every sequence of the component exactly once.
    """
    train, heldout = {}, {}
    for name, sequences in components.items():
        held = heldout_indices(name, len(sequences), count)
        kept = np.setdiff1d(np.arange(len(sequences), dtype=np.int64), held)
        train[name], heldout[name] = Part(sequences, kept), Part(sequences, held)
    return train, heldout
