"""The trainer's benchmark scripts run (tiny sizes, no timing asserted): bench_train with only
the packages a GPU machine has, and the objective ablation end to end."""

import subprocess
import sys

import numpy as np
from corpus_builder import REPO, write_train_config

sys.path.insert(0, str(REPO / "bench"))
from ablate import main as ablate, section_targets, table  # noqa: E402

from training.objectives import IGNORE_INDEX, Example  # noqa: E402

# What bench_train must not need: the GPU machines have torch, numpy, pyarrow, tokenizers,
# pyyaml and fsspec only.
ABSENT = ("apache_beam", "zstandard", "tiktoken")
RUN_WITHOUT = (f"import runpy, sys\nfor name in {ABSENT!r}:\n    sys.modules[name] = None\n"
               "sys.path.insert(0, 'bench')\n"
               "sys.argv = ['bench_train.py', *sys.argv[1:]]\n"
               "runpy.run_path('bench/bench_train.py', run_name='__main__')\n")


def test_bench_train_runs_without_beam_zstandard_or_tiktoken():
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT, "--dim", "32", "--layers", "1", "--heads", "2",
         "--seq-len", "16", "--batch", "2", "--vocab", "512", "--steps", "2",
         "--warmup", "1", "--rounds", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[-5].startswith("device: cpu") and "SwiGLU 256" in lines[-5]
    assert [line.split()[0] for line in lines[-3:-1]] == ["bare", "trainer"]
    assert lines[-1].startswith("trainer / bare loop: ")


def test_bench_train_compares_a_frozen_decoder_with_an_unfrozen_one():
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT, "--dim", "32", "--layers", "2", "--heads", "2",
         "--seq-len", "32", "--batch", "2", "--vocab", "512", "--steps", "2",
         "--warmup", "1", "--rounds", "1", "--encoder-layers", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "encoder-decoder (1 + 2 layers, t5_span)" in lines[-5]
    assert [line.split()[0] for line in lines[-3:-1]] == ["unfrozen", "frozen"]
    assert lines[-1].startswith("frozen / unfrozen: ")


def test_section_targets_keep_only_the_sections():
    # inputs:  a  OPEN b  c  CLOSE d  OPEN e ; targets are the next ids
    inputs = np.array([5, 1, 6, 7, 2, 8, 1, 9])
    targets = np.array([1, 6, 7, 2, 8, 1, 9, 3])
    got = section_targets(Example(inputs, targets), open_id=1, close_id=2)
    ignored = IGNORE_INDEX
    assert got.tolist() == [ignored, 6, 7, 2, ignored, ignored, 9, 3]


def test_ablation_prints_one_row_per_objective(tiny_manifest, tmp_path, capsys):
    cfg = write_train_config(tmp_path / "train.yaml", tiny_manifest, tmp_path / "unused")
    assert ablate(["--config", cfg, "--manifest", tiny_manifest, "--output",
                   str(tmp_path / "ablate"), "--steps", "2", "--eval-sequences", "4",
                   "--objectives", "clm", "fim", "--humaneval", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()[-5:]
    assert lines[0] == "| objective | CLM loss | FIM middle loss | span infill loss |"
    rows = [line.strip("|").split("|") for line in lines[2:4]]
    assert [r[0].strip() for r in rows] == ["clm", "fim"]
    assert all(0 < float(v) < 20 for r in rows for v in r[1:])
    # Two steps of training solve nothing: the pass@1 column is left out, and said so.
    assert lines[4] == "HumanEval pass@1 is 0 for every model (column left out)."


def test_the_ablation_table_shows_pass_at_1_where_a_model_passed():
    losses = {"clm": 5.9, "fim": 5.8, "span": 8.8}
    rows = {"clm": {**losses, "pass@1": 0.0}, "fim": {**losses, "pass@1": 0.125}}
    assert table(rows) == [
        "| objective | CLM loss | FIM middle loss | span infill loss | HumanEval pass@1 |",
        "|---|---:|---:|---:|---:|",
        "| clm | 5.900 | 5.800 | 8.800 | 0.000 |",
        "| fim | 5.900 | 5.800 | 8.800 | 0.125 |"]
    assert table({"clm": losses}) == [
        "| objective | CLM loss | FIM middle loss | span infill loss |", "|---|---:|---:|---:|",
        "| clm | 5.900 | 5.800 | 8.800 |"]


def test_importing_the_trainer_does_not_import_tiktoken():
    code = ("import sys\nimport training.train, training.generate\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tiktoken'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
