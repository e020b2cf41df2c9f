"""Causal language modelling: predict every next token of a packed sequence.

Inputs are ``tokens[:-1]`` and targets ``tokens[1:]``; a target that is the pad token takes
no loss. Packed sequences cross document boundaries (``<|endoftext|>`` between documents),
so a position right after a boundary attends to the previous document unless
``training.document_mask`` is on (``training.attention``). No randomness.
"""

from __future__ import annotations

import numpy as np

from tokenizer.special_tokens import PAD, SPECIAL_TOKENS
from training.objectives.example import IGNORE_INDEX, Example

PAD_ID = SPECIAL_TOKENS.index(PAD)


def causal_lm(tokens: np.ndarray, *, seed: int, index: int) -> Example:
    """Next-token prediction over one packed sequence.

    Args:
        tokens: ``seq_len + 1`` token ids.
        seed: unused (CLM has no randomness); part of the shared objective signature.
        index: unused, as ``seed``.

    Returns:
        ``Example`` with inputs ``tokens[:-1]`` and targets ``tokens[1:]`` (int64), pad
        targets replaced by ``IGNORE_INDEX``.
    """
    del seed, index
    ids = np.asarray(tokens, dtype=np.int64)
    targets = ids[1:].copy()
    targets[targets == PAD_ID] = IGNORE_INDEX
    return Example(inputs=ids[:-1].copy(), targets=targets)
