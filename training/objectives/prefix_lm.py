"""Prefix LM: bidirectional attention over a sampled prefix, next-token loss on the rest.

CodeGen2 (Nijkamp et al., 2023, arXiv:2305.02309, lesson 1) compares a prefix-LM against
plain causal LM on one decoder: a sequence is split in two, the prefix is encoded with
bidirectional attention and the rest is generated left to right. The split point is drawn
per sequence, uniformly over the window (not per document): of the ``n = seq_len + 1``
tokens, the first ``p`` form the prefix, ``p`` uniform in ``[1, n - 1]``, so both parts are
non-empty. Per-document splits would tie the prefix share to document lengths, which vary
by orders of magnitude between components; a uniform split gives every share equal weight.

The objective only decides where the prefix ends; the attention pattern is applied by the
model from ``Example.prefix`` (``training.attention``): the first ``p`` input positions
attend to each other in both directions, every later position causally. Loss is taken on
the tokens after the prefix only (``tokens[p:]``, predicted from input positions
``p - 1 ...``): a prefix position sees the whole prefix, so predicting a prefix token would
be copying it. Trade-off: about half the targets take no loss, so prefix-LM trains on
fewer tokens per step than CLM, which is the comparison CodeGen2 draws.
"""

from __future__ import annotations

import numpy as np

from tokenizer.special_tokens import SpecialIds
from training.objectives.clm import causal_lm
from training.objectives.example import IGNORE_INDEX, Example

_PREFIX_SALT = 0x9EF1C5
"""Generator stream of the split point of one (seed, index)."""


def prefix_lm(tokens: np.ndarray, *, seed: int, index: int,
              specials: SpecialIds = SpecialIds.default(),
              no_loss: np.ndarray | None = None) -> Example:
    """Split one packed sequence into a bidirectional prefix and a causal rest.

    Args:
        tokens: ``seq_len + 1`` token ids, at least 2.
        seed: the run's seed; with ``index`` the only source of randomness.
        index: the global sample index; it differs between epochs, so a sequence seen
            again is split afresh.
        specials: the corpus's special ids (default: the codemix layout); pad targets
            take no loss.
        no_loss: bool, one per token: True where the token takes no loss
            (``PackedSequence.no_loss``); None for none.

    Returns:
        ``Example`` of ``seq_len`` int64 ids each: inputs ``tokens[:-1]``, targets
        ``tokens[1:]`` with the first ``prefix - 1`` (those inside the prefix), pad and
        ``no_loss`` targets set to ``IGNORE_INDEX``; ``prefix`` in ``[1, seq_len]``.

    Raises:
        ValueError: ``tokens`` not 1-D with at least two ids.
    """
    ids = np.asarray(tokens, dtype=np.int64)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"tokens must be 1-D with at least 2 ids, got shape {ids.shape}")
    prefix = int(np.random.default_rng([seed, index, _PREFIX_SALT]).integers(1, len(ids)))
    clm = causal_lm(ids, seed=seed, index=index, specials=specials, no_loss=no_loss)
    targets = clm.targets
    targets[:prefix - 1] = IGNORE_INDEX
    return Example(inputs=clm.inputs, targets=targets, prefix=prefix)
