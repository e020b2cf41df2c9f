"""Stopping a run cleanly when asked: after the step in progress, on every rank at once.

SIGINT or SIGTERM to a worker, or the file named by ``CODEMIX_STOP_FILE`` appearing (how
``codemix train`` asks: its workers run in a session of their own, away from the
terminal's Ctrl-C, so torchrun does not tear them down first), asks the run to stop. Ranks
see a signal or a file at different moments, so each step ends with one all-reduce of the
request (MAX over ranks): every rank then stops after the same step, and the final
checkpoint, a collective, is written by all of them.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import torch
import torch.distributed as dist

STOP_FILE_ENV = "CODEMIX_STOP_FILE"
"""Environment variable naming the file whose appearance asks the run to stop."""


class StopRequest:
    """Whether this run was asked to stop; ``asked`` is collective.

    Args:
        device: where the all-reduced flag lives (the process group's device).
        stop_file: the file whose appearance asks to stop; None for none.
    """

    def __init__(self, device: torch.device, stop_file: str | None = None):
        self._device = device
        self._stop_file = stop_file
        self._signalled = False
        self._previous: dict[int, Any] = {}

    @classmethod
    def from_environment(cls, device: torch.device) -> "StopRequest":
        """A request watching the file ``CODEMIX_STOP_FILE`` names, if any."""
        return cls(device, os.environ.get(STOP_FILE_ENV) or None)

    def __enter__(self) -> "StopRequest":
        """Watch SIGINT and SIGTERM too (from the main thread only): inside the block they
        ask to stop instead of ending the process."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self._signalled = True

    def asked(self) -> bool:
        """True on every rank when any rank was asked to stop; collective."""
        local = self._signalled or bool(self._stop_file and os.path.exists(self._stop_file))
        flag = torch.tensor([int(local)], device=self._device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())
