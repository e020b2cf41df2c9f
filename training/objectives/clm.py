"""Causal language modelling: predict every next token of a packed sequence.

Inputs are ``tokens[:-1]`` and targets ``tokens[1:]``; a target that is the pad token (if
the tokenizer has one), or that the build marked ``no_loss`` (a license header, a redaction
placeholder: ``PackedSequence.no_loss``), takes no loss. Packed sequences cross document boundaries
(``<|endoftext|>`` between documents), so a position right after a boundary attends to the
previous document unless ``training.document_mask`` is on (``training.attention``). No
randomness.
"""

from __future__ import annotations

import numpy as np

from tokenizer.special_tokens import SpecialIds
from training.objectives.example import IGNORE_INDEX, Example


def causal_lm(tokens: np.ndarray, *, seed: int, index: int,
              specials: SpecialIds = SpecialIds.default(),
              no_loss: np.ndarray | None = None) -> Example:
    """Next-token prediction over one packed sequence.

    Args:
        tokens: ``seq_len + 1`` token ids.
        seed: unused (CLM has no randomness); part of the shared objective signature.
        index: unused, as ``seed``.
        specials: the corpus's special ids (default: the codemix layout); only ``pad``
            is used.
        no_loss: bool, one per token of ``tokens``: True where the token takes no loss
            (``PackedSequence.no_loss``); None for none.

    Returns:
        ``Example`` with inputs ``tokens[:-1]`` and targets ``tokens[1:]`` (int64), pad
        and ``no_loss`` targets replaced by ``IGNORE_INDEX``.
    """
    del seed, index
    ids = np.asarray(tokens, dtype=np.int64)
    targets = ids[1:].copy()
    if specials.pad is not None:
        targets[targets == specials.pad] = IGNORE_INDEX
    if no_loss is not None:
        targets[np.asarray(no_loss, dtype=bool)[1:]] = IGNORE_INDEX
    return Example(inputs=ids[:-1].copy(), targets=targets)
