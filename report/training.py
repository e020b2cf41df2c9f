"""The training part of the report, from a run's ``metrics.jsonl`` (``training.trainer``).

Loss (and each objective's), held-out loss per component, learning rate, tokens per
second, MFU and peak memory, against the step. MFU is only logged on an accelerator whose
peak the trainer knows, so a CPU run says so instead of drawing it. HumanEval results that
``codemix eval`` wrote into the run's folder (``eval/humaneval-<checkpoint>.json``) are a
table of pass@k per checkpoint.
"""

from __future__ import annotations

import json
from typing import Any

import fsspec

from report.page import paragraph, section, table
from report.svg import lines, no_data

METRICS_NAME = "metrics.jsonl"
HUMANEVAL_GLOB = "eval/humaneval-*.json"
"""``training.benchmark.humaneval.results_path`` inside a run's folder (not imported: the
report must not import the trainer's dependencies)."""


def _rows(run_dir: str) -> list[dict[str, Any]]:
    with fsspec.open(f"{run_dir.rstrip('/')}/{METRICS_NAME}", "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def _series(rows: list[dict[str, Any]], prefix: str) -> dict[str, list[tuple[float, float]]]:
    """Every metric named ``prefix`` or ``prefix/<name>``, as ``name -> [(step, value)]``."""
    out: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key == prefix or key.startswith(prefix + "/"):
                out.setdefault(key, []).append((row["step"], value))
    return out


def _humaneval(run_dir: str) -> list[str]:
    """A section with each checkpoint's pass@k, or none when the run has no results."""
    fs, root = fsspec.core.url_to_fs(run_dir.rstrip("/"))
    results = []
    for path in sorted(fs.glob(f"{root}/{HUMANEVAL_GLOB}")):
        with fs.open(path, "rt") as f:
            results.append((path.rsplit("/", 1)[-1], json.load(f)))
    if not results:
        return []
    ks = sorted({k for _, r in results for k in r["pass@k"]}, key=int)
    rows = [[name, r["problems"], r["n"], r["temperature"],
             *(round(r["pass@k"][k], 4) if k in r["pass@k"] else "" for k in ks), r["sandbox"]]
            for name, r in results]
    return [section("HumanEval",
                    paragraph("pass@k (unbiased estimator, Chen et al. 2021) of the samples "
                              "codemix eval ran in its sandbox."),
                    table(["results", "problems", "n", "temperature",
                           *(f"pass@{k}" for k in ks), "sandbox"], rows))]


def training_sections(run_dir: str) -> list[str]:
    """The training run's sections of the report (``run_dir``: its ``output_dir``)."""
    rows = _rows(run_dir)
    if not rows:
        return [section("Training", no_data("Training", f"{run_dir} has no logged steps"))]
    last = rows[-1]
    summary = table(["steps logged", "last step", "last loss", "tokens/s (last)"],
                    [[len(rows), last["step"], round(last["loss"], 4),
                      round(last.get("tokens_per_s", 0.0))]])
    mfu = _series(rows, "mfu")
    return [
        section("Training: loss",
                paragraph(f"{run_dir}: {METRICS_NAME}"), summary,
                lines("train-loss", "Training loss (and per objective)",
                      {**_series(rows, "loss")}, "step", "nats per token"),
                lines("eval-loss", "Held-out loss per component", _series(rows, "eval"),
                      "step", "nats per token")),
        section("Training: schedule and speed",
                lines("lr", "Learning rate", _series(rows, "lr"), "step", "lr"),
                lines("tokens-per-s", "Tokens per second", _series(rows, "tokens_per_s"),
                      "step", "tokens/s"),
                lines("mfu", "Model FLOPs utilisation", mfu, "step", "MFU") if mfu else
                no_data("Model FLOPs utilisation",
                        "not logged: the run's device has no known peak FLOPs (a CPU run)"),
                lines("memory", "Peak memory", _series(rows, "memory_gib"), "step", "GiB")),
        *_humaneval(run_dir)]
