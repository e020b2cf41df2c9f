"""Live progress of a build: documents and MB entering each stage, kept, rate, ETA.

The stages tick counters as records pass (``tick``): Beam counters, which every runner
aggregates over its workers, and a tally in this process. While the build runs a
``ProgressReporter`` thread reads them every few seconds: the tally where the workers run
in this process (DirectRunner, LOOPBACK), else the job's metrics from the job service
(portable runners: Flink, Spark). The counts only describe the build; nothing reads them
back into it.

On a terminal the report is a block of lines redrawn in place every ``TTY_EVERY_S``
seconds; otherwise one plain line every ``LOG_EVERY_S``, and a last one when the build
ends. Reading ETA: units (files or parts of files) read against units listed, known once
listing has run, so the ETA is of the reading; the stages after it follow as records flow.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from apache_beam.metrics.metric import Metrics, MetricsFilter

from pipelines.rates import RATES_MB_S

NAMESPACE = "codemix.progress"
"""Beam counter namespace of the progress ticks: ``<step>/docs`` and ``<step>/bytes``."""

STEPS = ("read", "clean", "filter", "redact", "decontam", "dedup", "parse", "tokenize",
         "tokenizer", "encoded")
"""What progress shows, in pipeline order: documents entering each stage, ``tokenizer`` the
BPE's training sample (ticked when training starts, ``trained`` when it ends) and
``encoded`` the documents encoded. A stage's kept documents are those entering the next.
``listed`` and ``units`` (units read) give the reading's ETA."""

TTY_EVERY_S = 2.0
LOG_EVERY_S = 30.0

_LOCK = threading.Lock()
_TALLY: dict[str, int] = {}
_COUNTERS: dict[str, Any] = {}


def tick(step: str, docs: int = 1, size: int = 0) -> None:
    """Count ``docs`` documents (and ``size`` bytes) passing ``step``."""
    for name, n in ((f"{step}/docs", docs), (f"{step}/bytes", size)):
        if n:
            if name not in _COUNTERS:
                _COUNTERS[name] = Metrics.counter(NAMESPACE, name)
            _COUNTERS[name].inc(n)
            with _LOCK:
                _TALLY[name] = _TALLY.get(name, 0) + n


def local_counts() -> dict[str, int]:
    """The ticks made in this process since ``reset``."""
    with _LOCK:
        return dict(_TALLY)


def reset() -> None:
    """Forget this process's ticks (a new build starts)."""
    with _LOCK:
        _TALLY.clear()


def metric_counts(metrics: Any) -> dict[str, int]:
    """The ticks as a runner's metrics report them (committed, else attempted)."""
    out: dict[str, int] = {}
    for r in metrics.query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        value = r.committed if r.committed is not None else r.attempted
        out[r.key.metric.name] = out.get(r.key.metric.name, 0) + (value or 0)
    return out


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return (f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600
            else f"{seconds // 60}m{seconds % 60:02d}s")


def _training(counts: dict[str, int], elapsed: float, since: float | None) -> str:
    """The tokenizer's state: training, for how long and until about when, or trained.

    BPE training is one call into ``tokenizers`` with nothing to count on the way, so its
    ETA comes from the sample's size at the per-core rate ``bench/`` measured."""
    if counts.get("trained/docs"):
        return "  trained"
    if since is None:
        return "  training"
    spent = elapsed - since
    left = counts.get("tokenizer/bytes", 0) / 1e6 / RATES_MB_S["tokenizer"] - spent
    return f"  training {_duration(spent)}" + (f", ETA {_duration(left)}" if left >= 1 else "")


def render(counts: dict[str, int], elapsed: float,
           training_since: float | None = None) -> list[str]:
    """The progress lines for ``counts`` after ``elapsed`` seconds: one per step that has
    seen documents, with documents, MB, rate over the build so far, and the reading's ETA;
    for the tokenizer, its training's state (started at ``training_since``)."""
    lines = []
    listed, units = counts.get("listed/docs", 0), counts.get("units/docs", 0)
    for i, step in enumerate(STEPS):
        docs = counts.get(f"{step}/docs", 0)
        if not docs:
            continue
        mb = counts.get(f"{step}/bytes", 0) / 1e6
        line = f"  {step:<9} {docs:>11,} docs {mb:>10,.1f} MB"
        if step == "tokenizer":
            lines.append(line + _training(counts, elapsed, training_since))
            continue
        if i + 1 < len(STEPS) and step != "tokenize":
            line += f" {counts.get(f'{STEPS[i + 1]}/docs', 0):>11,} kept"
        line += f" {docs / max(elapsed, 1e-9):>9,.0f} docs/s"
        if step == "read" and listed:
            line += f"  {units:,}/{listed:,} units"
            if 0 < units < listed:
                line += f", ETA {_duration(elapsed * (listed - units) / units)}"
        lines.append(line)
    return [f"progress {_duration(elapsed)}"] + lines


class ProgressReporter:
    """Shows progress on ``stream`` from a thread while the build runs.

    Args:
        stream: where to write (stderr); a terminal gets the redrawn block.
        counts: where the counts come from; ``local_counts`` by default, replaced by
            ``watch_job`` for a job whose workers run elsewhere.
    """

    def __init__(self, stream: TextIO = sys.stderr,
                 counts: Callable[[], dict[str, int]] = local_counts):
        self._stream, self._counts = stream, counts
        self._tty = stream.isatty()
        self._every = TTY_EVERY_S if self._tty else LOG_EVERY_S
        self._stop = threading.Event()
        self._drawn = 0
        self._start = time.monotonic()
        self._training_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="codemix-progress", daemon=True)

    def start(self) -> "ProgressReporter":
        reset()
        self._start = time.monotonic()
        self._thread.start()
        return self

    def watch_job(self, counts: Callable[[], dict[str, int]]) -> None:
        """Read the job's metrics through ``counts`` whenever this process has no ticks of
        its own (its workers run elsewhere)."""
        self._counts = lambda: local_counts() or counts()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._show()

    def _show(self) -> None:
        try:
            counts = self._counts()
        except Exception:  # noqa: BLE001 -- a job service that cannot answer yet
            return
        elapsed = time.monotonic() - self._start
        if self._training_since is None and counts.get("tokenizer/docs"):
            self._training_since = elapsed  # first seen: within one refresh of its start
        lines = render(counts, elapsed, self._training_since)
        if self._tty:
            # Move up over the last block and clear it, then draw the new one.
            up = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
            self._stream.write(up + "\n".join(lines) + "\n")
            self._drawn = len(lines)
        else:
            self._stream.write(lines[0] + ":" + ";".join(l.strip() and " " + " ".join(
                l.split()) for l in lines[1:]) + "\n")
        self._stream.flush()

    def stop(self, final: dict[str, int] | None = None, show: bool = True) -> None:
        """Stop the thread and, with ``show``, show the last counts (``final``, the job's
        own, when given)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if final is not None:
            self._counts = lambda: final
        if show:
            self._show()


def job_counts(result: Any) -> Callable[[], dict[str, int]] | None:
    """For a portable runner's running job, a function asking its job service for the
    metrics now (``PortableRunnerResult.metrics()`` keeps its first answer); else None."""
    service, job_id = getattr(result, "_job_service", None), getattr(result, "_job_id", None)
    if service is None or job_id is None:
        return None
    from apache_beam.portability.api import beam_job_api_pb2
    from apache_beam.runners.portability.portable_runner import PortableMetrics

    def counts() -> dict[str, int]:
        response = service.GetJobMetrics(beam_job_api_pb2.GetJobMetricsRequest(job_id=job_id))
        return metric_counts(PortableMetrics(response))
    return counts

