"""What the trainer measures and where it goes: grouped losses and the metrics log.

Losses are kept as sums and token counts per sequence (``sequence_losses``), so a loss per
group (per objective in training, per component in evaluation) is a token-weighted mean over
every rank and step: ``GroupLosses`` adds sums and counts per group on each rank, and one
all-reduce of both gives the mean of all the tokens of a group, whatever each rank and step
held of it. (A mean of per-rank means would weigh a rank with few tokens of a group like one
with many.)

``MetricsLog`` writes rank 0's entries: one line to stdout, one JSON object to
``metrics.jsonl``, and the same scalars to TensorBoard when asked for and installed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F

from training.objectives.example import IGNORE_INDEX


def sequence_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed cross entropy of each sequence over its targets that are not ``IGNORE_INDEX``.

    Args:
        logits: ``[batch, seq, vocab]`` scores, any float dtype (computed in float32).
        targets: ``[batch, seq]`` int64 ids.

    Returns:
        float32 ``[batch]``; divided by the number of predicted tokens it is the mean loss
        (``training.objectives.loss.cross_entropy``), with the same gradient.
    """
    # [batch, seq, vocab] -> [batch * seq, vocab]; ignored targets give 0
    tokens = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(0, 1),
                             ignore_index=IGNORE_INDEX, reduction="none")
    return tokens.view(targets.shape).sum(dim=1)


class GroupLosses:
    """Loss sums and token counts per group, on this rank, until ``means`` reads them.

    Args:
        names: the groups' names; group ``g`` of ``add`` is ``names[g]``.
        device: where the sums are kept (the model's device, for the all-reduce).
    """

    def __init__(self, names: Sequence[str], device: torch.device):
        self.names = tuple(names)
        # [0]: summed loss, [1]: predicted tokens, per group
        self.totals = torch.zeros(2, len(self.names), dtype=torch.float64, device=device)

    def add(self, groups: torch.Tensor, losses: torch.Tensor, counts: torch.Tensor) -> None:
        """Add sequences: ``groups``, ``losses`` (``sequence_losses``, detached) and
        ``counts`` (their predicted tokens), each ``[batch]`` on the device."""
        self.totals[0].index_add_(0, groups, losses.double())
        self.totals[1].index_add_(0, groups, counts.double())

    def means(self) -> dict[str, float]:
        """Mean loss per token of each group over all ranks since the last call, then start
        afresh; collective (every rank must call it). A group with no tokens is left out."""
        dist.all_reduce(self.totals)  # sums over ranks (gloo has no AVG)
        sums, counts = self.totals.tolist()
        self.totals.zero_()
        return {name: s / c for name, s, c in zip(self.names, sums, counts) if c > 0}


class MetricsLog:
    """Rank 0's log: one line to stdout and one JSON object to ``metrics.jsonl`` per entry,
    and the entry's scalars to TensorBoard when ``tensorboard`` is on and installed.

    Args:
        output_dir: folder of ``metrics.jsonl`` (created) and ``tensorboard/``.
        append: keep earlier entries (a resumed run) instead of starting the file afresh.
        enabled: False on every rank but 0.
        tensorboard: also write TensorBoard event files (``training.tensorboard``).
    """

    def __init__(self, output_dir: str, *, append: bool, enabled: bool,
                 tensorboard: bool = False):
        self.path = os.path.join(output_dir, "metrics.jsonl")
        self.enabled = enabled
        self.losses: list[float] = []  # this run's logged losses, for the closing summary
        self.writer = None
        if not enabled:
            return
        os.makedirs(output_dir, exist_ok=True)
        if not append:
            open(self.path, "w").close()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # torch's module needs the tensorboard package
                print("training.tensorboard: tensorboard is not installed (pip install "
                      "tensorboard); logging to metrics.jsonl only", flush=True)
            else:
                self.writer = SummaryWriter(os.path.join(output_dir, "tensorboard"))

    def log(self, entry: dict[str, float | int], eta_s: float | None = None) -> None:
        """Write one entry: ``step``, ``loss`` and any other scalars; the printed line
        ends with ``eta`` (``eta_s`` seconds to the last step) when given."""
        if not self.enabled:
            return
        self.losses.append(float(entry["loss"]))
        eta = "" if eta_s is None else f" eta={int(eta_s) // 60}m{int(eta_s) % 60:02d}s"
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in entry.items()) + eta, flush=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        if self.writer is not None:
            for key, value in entry.items():
                if key != "step":
                    self.writer.add_scalar(key, value, entry["step"])

    def close(self) -> None:
        """Flush and close the TensorBoard writer, if any."""
        if self.writer is not None:
            self.writer.close()
