"""Per-component objectives, loss per objective, held-out evaluation and TensorBoard, end to
end: the same 8-step run on 2 processes and on 1."""

import math
import sys

import pytest
from corpus_builder import read_metrics, torchrun, write_train_config

from training.config import ConfigError
from training.data.corpus import open_corpus
from training.data.holdout import split
from training.data.sampler import MixtureSampler
from training.launch import check
from training.metrics import MetricsLog
from training.train import main

HELD_OUT, BATCH = 4, 8
# text-docs trains with codegen2, which (like clm) takes loss on every token, so every rank
# holds as many predicted tokens as the other and 1 and 2 processes take the same steps.
TRAINING = {"steps": 8, "log_every": 5, "eval_sequences": HELD_OUT, "eval_every": 3,
            "objective": "clm", "objective_per_component": {"text-docs": "codegen2"},
            "tensorboard": True}


@pytest.fixture(scope="module")
def runs(tiny_manifest, tmp_path_factory):
    """Output folders of the run on 2 processes and on 1."""
    root = tmp_path_factory.mktemp("evaluate")
    cfg = write_train_config(root / "train.yaml", tiny_manifest, root / "two",
                             training=TRAINING)
    result = torchrun([cfg], nproc=2)
    assert result.returncode == 0, result.stderr[-2000:]
    assert main([cfg, "--set", f"training.output_dir={root / 'one'}"]) == 0
    return root / "two", root / "one"


def test_loss_is_logged_per_objective_as_a_mean_over_tokens(runs, tiny_manifest):
    two, _ = runs
    corpus = open_corpus(tiny_manifest)
    train, _ = split(corpus.packed(64), HELD_OUT)
    sampler = MixtureSampler(corpus.mixture(train), 0)
    mixed, last = 0, 0
    for m in read_metrics(two):
        step = m["step"]
        # An entry has the loss of each objective its steps (since the last entry) trained
        # with, no other.
        per_step = [sum(sampler.sample(i)[0] == "text-docs"
                        for i in range(s * BATCH, (s + 1) * BATCH)) for s in range(last, step)]
        expected = ({"loss/clm"} if min(per_step) < BATCH else set()) | (
            {"loss/codegen2"} if max(per_step) else set())
        assert {k for k in m if k.startswith("loss/")} == expected
        docs, last = per_step[-1], step
        if len(per_step) == 1 and 0 < docs < BATCH:
            # The step's loss is the mean over all its tokens: the objectives' losses
            # weighted by their sequences in the global batch (each sequence predicts the
            # same number of tokens), however the ranks split them.
            mixed += 1
            mean = (docs * m["loss/codegen2"] + (BATCH - docs) * m["loss/clm"]) / BATCH
            assert m["loss"] == pytest.approx(mean, rel=1e-5)
    assert mixed


def test_heldout_loss_is_logged_every_eval_every_steps_and_at_the_last(runs):
    two, _ = runs
    metrics = read_metrics(two)
    assert [m["step"] for m in metrics] == [1, 3, 5, 6, 8]  # 3 and 6: evaluation steps
    evaluated = [m for m in metrics if "eval/code-python" in m]
    assert [m["step"] for m in evaluated] == [3, 6, 8]
    assert all("eval/text-docs" in m and math.isfinite(m["eval/text-docs"])
               for m in evaluated)
    assert evaluated[-1]["eval/code-python"] < evaluated[0]["eval/code-python"]


def test_evaluation_does_not_depend_on_the_number_of_processes(runs):
    two, one = runs
    for a, b in zip(read_metrics(two), read_metrics(one), strict=True):
        keys = [k for k in a if k.startswith(("eval/", "loss"))]
        assert keys == [k for k in b if k.startswith(("eval/", "loss"))]
        assert [b[k] for k in keys] == pytest.approx([a[k] for k in keys], rel=1e-4)


def test_tensorboard_gets_the_logged_scalars(runs):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    two, _ = runs
    events = EventAccumulator(str(two / "tensorboard"))
    events.Reload()
    metrics = read_metrics(two)
    for key in ("loss", "loss/codegen2", "eval/text-docs"):
        logged = [(m["step"], m[key]) for m in metrics if key in m]
        scalars = [(e.step, e.value) for e in events.Scalars(key)]
        assert [s for s, _ in scalars] == [s for s, _ in logged]
        assert [v for _, v in scalars] == pytest.approx([v for _, v in logged], rel=1e-6)


def test_without_tensorboard_the_run_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    log = MetricsLog(str(tmp_path), append=False, enabled=True, tensorboard=True)
    assert capsys.readouterr().out == ("training.tensorboard: tensorboard is not installed "
                                       "(pip install tensorboard); logging to metrics.jsonl "
                                       "only\n")
    log.log({"step": 1, "loss": 2.0})
    log.close()
    assert read_metrics(tmp_path) == [{"step": 1, "loss": 2.0}]


def test_launch_refuses_an_objective_for_a_missing_component(tiny_manifest, tmp_path):
    cfg = write_train_config(tmp_path / "train.yaml", tiny_manifest, tmp_path / "out",
                             training={"objective_per_component": {"code-java": "fim"}})
    with pytest.raises(ConfigError, match="names 'code-java', which is not a component"):
        check([cfg], 1)


def test_each_logged_step_ends_with_its_eta(tmp_path, capsys):
    log = MetricsLog(str(tmp_path), append=False, enabled=True, tensorboard=False)
    log.log({"step": 1, "loss": 2.0, "s_per_step": 0.5}, eta_s=3725.0)
    log.close()
    assert capsys.readouterr().out == "step=1 loss=2 s_per_step=0.5 eta=62m05s\n"
    assert read_metrics(tmp_path) == [{"step": 1, "loss": 2.0, "s_per_step": 0.5}]
