"""A run into an output folder that holds an earlier run: refused, unless told to resume it
(from its newest checkpoint) or to overwrite it."""

from __future__ import annotations

import pytest
from corpus_builder import read_metrics, write_train_config

from training.config import ConfigError
from training.launch import launch


def test_an_earlier_run_is_refused_resumed_or_overwritten(tiny_manifest, tmp_path):
    out = tmp_path / "out"
    cfg = write_train_config(tmp_path / "train.yaml", tiny_manifest, out,
                             training={"steps": 4, "log_every": 1, "checkpoint_every": 2,
                                       "keep_checkpoints": 0})
    with pytest.raises(ConfigError, match=r"--resume: no checkpoint in .* to resume from"):
        launch([cfg], 1, resume=True)
    assert launch([cfg], 1) == 0
    with pytest.raises(ConfigError, match=(
            f"^training.output_dir {out} already holds a run \\(metrics.jsonl, checkpoints "
            r"up to step-000004\); pass --resume to continue it or --overwrite to start "
            "again$")):
        launch([cfg], 1)
    with pytest.raises(ConfigError, match="exclude each other"):
        launch([cfg], 1, resume=True, overwrite=True)

    assert launch([cfg, "--set", "training.steps=6"], 1, resume=True) == 0
    assert [m["step"] for m in read_metrics(out)] == [1, 2, 3, 4, 5, 6]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step-000002", "step-000004", "step-000006"]

    assert launch([cfg], 1, overwrite=True) == 0
    assert [m["step"] for m in read_metrics(out)] == [1, 2, 3, 4]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step-000002", "step-000004"]
