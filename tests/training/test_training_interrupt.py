"""Ctrl-C or SIGTERM during ``codemix train``: every rank stops after the same step, that
step's checkpoint is written, one line says where, and the status is 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from corpus_builder import REPO, read_metrics, write_train_config

from training.checkpoint import read_state


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_writes_its_checkpoint_and_says_where(tiny_manifest, tmp_path, sig):
    out = tmp_path / "run"
    cfg = write_train_config(tmp_path / "cfg.yaml", tiny_manifest, out,
                             training={"steps": 100_000, "log_every": 1})
    proc = subprocess.Popen([sys.executable, "-m", "codemix", "train", cfg,
                             "--nproc-per-node", "2"], cwd=REPO,
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not ((out / "metrics.jsonl").exists() and len(read_metrics(out)) >= 3):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = read_metrics(out)[-1]["step"]
    path = out / "checkpoints" / f"step-{last:06d}"
    assert err.splitlines()[-1] == (f"codemix: interrupted; checkpoint {path}; resume with "
                                    f"--set training.resume_from={path}")
    assert read_state(str(path), no_dist=True).step == last
