"""What objectives return: one training example as inputs, targets and a prefix
(``Example``, decoder-only), or encoder inputs and decoder targets (``Seq2SeqExample``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

IGNORE_INDEX = -100
"""Target id that takes no loss (padding, or positions an objective does not predict)."""


class Example(NamedTuple):
    """One training example.

    Attributes:
        inputs: int64 token ids fed to the model, shape ``[seq_len]``.
        targets: int64 ids to predict at each input position, shape ``[seq_len]``;
            ``IGNORE_INDEX`` where no loss is taken.
        prefix: how many leading input positions attend to each other in both directions
            (prefix-LM); every later position attends causally. 0 (the default) and 1 both
            mean plain causal attention; ``training.attention`` turns it into the mask.
        pairs: int64 ``[P, 4]``: the input positions ``(text_start, text_end, code_start,
            code_end)`` of each complete docstring/code pair the ``bimodal`` objective laid
            out (``training.objectives.bimodal``), for the contrastive and matching passes
            (``training.bimodal``); None (the default) for objectives without pairs.
    """

    inputs: np.ndarray
    targets: np.ndarray
    prefix: int = 0
    pairs: np.ndarray | None = None


class Seq2SeqExample(NamedTuple):
    """One encoder-decoder example, before padding to the batch's lengths.

    Attributes:
        inputs: int64 token ids the encoder reads, shape ``[input_len]``.
        targets: int64 token ids the decoder generates, shape ``[target_len]``; the
            decoder is fed them shifted right by one (teacher forcing), so the first is
            predicted from the decoder's start alone.
        no_loss: bool ``[target_len]``: True where a target takes no loss (a token the
            build marked ``no_loss``; it is still fed to the decoder, so it stays an id
            here rather than ``IGNORE_INDEX``); None (the default) for none.
        pairs: int64 ``[P, 4]``: ``(text_start, text_end, code_start, code_end)`` of the
            docstring/code pair the encoder-decoder's ``bimodal`` laid out
            (``training.objectives.bimodal.bimodal_seq2seq``), as positions in
            ``np.r_[inputs, targets]``; None (the default) for objectives without pairs.
    """

    inputs: np.ndarray
    targets: np.ndarray
    no_loss: np.ndarray | None = None
    pairs: np.ndarray | None = None
