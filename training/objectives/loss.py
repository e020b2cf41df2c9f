"""The loss every objective trains with: token-level cross entropy over non-ignored targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from training.objectives.example import IGNORE_INDEX


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross entropy over the targets that are not ``IGNORE_INDEX``.

    Args:
        logits: ``[batch, seq, vocab]`` scores, any float dtype (computed in float32).
        targets: ``[batch, seq]`` int64 ids.

    Returns:
        A scalar float32 tensor.
    """
    # [batch, seq, vocab] -> [batch * seq, vocab]
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(0, 1),
                           ignore_index=IGNORE_INDEX)
