"""CodeT5+'s causal LM for encoder-decoders (Wang et al. 2023, arXiv:2305.07922, section
3.1, "Causal language modeling"): split a window at a random pivot; the encoder reads the
part before it, the decoder generates the part after it.

The pivot is drawn uniformly between 10% and 90% of the window (the paper's range), so both
parts are at least one token: of ``n`` tokens, ``p`` go to the encoder with
``ceil(0.1 n) <= p <= floor(0.9 n)`` (and ``1 <= p <= n - 1``)::

    tokens   a b c d e f g h i j      (pivot 4)
    inputs   a b c d
    targets  e f g h i j

The targets end where the window ends, with no end token: the window cuts the text at an
arbitrary point, and an end token there would teach the decoder to stop mid-document
(``<|endoftext|>`` separators inside the window are kept as they are). The paper's second
variant, a ``[CLM]`` token as the whole encoder input and the full sequence as the target,
is not here: the codemix tokenizer has no such token. Randomness comes only from
``(seed, index)``. Tokens the build marked ``no_loss`` keep that mark in the targets.
"""

from __future__ import annotations

import math

import numpy as np

from tokenizer.special_tokens import SpecialIds
from training.objectives.example import Seq2SeqExample

PIVOT_RANGE = (0.1, 0.9)
"""Bounds of the pivot as a share of the window (CodeT5+)."""

_PIVOT_SALT = 0xC1A5E2
"""Generator stream of the pivot of one (seed, index)."""


def pivot_bounds(n: int, pivot_range: tuple[float, float] = PIVOT_RANGE) -> tuple[int, int]:
    """The smallest and largest pivot of an ``n``-token window, both inclusive.

    Raises:
        ValueError: ``n < 2`` or a range outside ``0 <= low <= high <= 1``.
    """
    low, high = pivot_range
    if not 0 <= low <= high <= 1:
        raise ValueError(f"pivot_range must satisfy 0 <= low <= high <= 1, got {pivot_range}")
    if n < 2:
        raise ValueError(f"seq2seq_lm needs a window of at least 2 tokens, got {n}")
    first = min(max(math.ceil(low * n), 1), n - 1)
    return first, max(min(math.floor(high * n), n - 1), first)


def lengths(n: int, *, pivot_range: tuple[float, float] = PIVOT_RANGE) -> tuple[int, int]:
    """``(input_len, target_len)`` that hold ``seq2seq_lm``'s split of any ``n``-token
    window: the longest encoder part and the longest decoder part (not of one split)."""
    first, last = pivot_bounds(n, pivot_range)
    return last, n - first


def seq2seq_lm(tokens: np.ndarray, *, seed: int, index: int,
               specials: SpecialIds = SpecialIds.default(),
               no_loss: np.ndarray | None = None,
               pivot_range: tuple[float, float] = PIVOT_RANGE) -> Seq2SeqExample:
    """Split one window at a pivot: the encoder's part before it, the decoder's after.

    Args:
        tokens: the window's token ids, 1-D, at least 2.
        seed: the run's seed; with ``index`` the only source of randomness.
        index: the global sample index; it differs between epochs, so a window seen again
            is split afresh.
        specials: unused (the split inserts no special token); part of the shared
            objective signature.
        no_loss: bool, one per token of ``tokens``: True where the token takes no loss
            (``PackedSequence.no_loss``); None for none.
        pivot_range: ``(low, high)`` shares of the window the pivot is drawn between,
            uniformly (default the paper's 10% to 90%).

    Returns:
        ``Seq2SeqExample`` of int64 ids: inputs ``tokens[:p]``, targets ``tokens[p:]``,
        ``no_loss[p:]`` its ``no_loss``.

    Raises:
        ValueError: ``tokens`` not 1-D with at least 2 ids, or a bad ``pivot_range``.
    """
    ids = np.asarray(tokens, dtype=np.int64)
    if ids.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {ids.shape}")
    first, last = pivot_bounds(len(ids), pivot_range)
    pivot = int(np.random.default_rng([seed, index, _PIVOT_SALT]).integers(first, last + 1))
    del specials
    after = None if no_loss is None else np.asarray(no_loss, dtype=bool)[pivot:].copy()
    return Seq2SeqExample(inputs=ids[:pivot].copy(), targets=ids[pivot:].copy(), no_loss=after)
