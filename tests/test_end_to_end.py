"""The whole path: the Beam-built manifest trains under `codemix train` with 2 processes."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent / "training"))

from corpus_builder import read_metrics, write_train_config  # noqa: E402

from training.train import main  # noqa: E402


def test_two_process_training_on_the_built_corpus(built_corpus, tmp_path):
    out = tmp_path / "train"
    cfg = write_train_config(tmp_path / "train.yaml", str(built_corpus / "manifest.json"), out,
                             training={"steps": 24, "log_every": 4, "checkpoint_every": 12})
    result = subprocess.run(
        [sys.executable, "-m", "codemix", "train", cfg, "--nproc-per-node", "2"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_metrics(out)
    assert [m["step"] for m in metrics] == [1, 4, 8, 12, 16, 20, 24]
    assert metrics[-1]["loss"] < metrics[0]["loss"] - 0.5
    # Every entry records each component's epoch, and epochs only grow.
    names = {"epoch/code-c", "epoch/code-python", "epoch/pairs", "epoch/text-docs"}
    assert all(names <= set(m) for m in metrics)
    assert all(later[n] >= earlier[n] for earlier, later in zip(metrics, metrics[1:])
               for n in names)

    # The final checkpoint loads again: continue from step 24 for 4 more steps.
    more = tmp_path / "more"
    assert main([cfg, "--set", f"training.resume_from={out}/checkpoints/step-000024",
                 "--set", "training.steps=28", "--set", f"training.output_dir={more}"]) == 0
    assert [m["step"] for m in read_metrics(more)] == [25, 28]
