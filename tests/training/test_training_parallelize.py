"""Speed features of the trainer that the CPU can check: meta-device initialisation,
activation checkpointing, gradient accumulation from ``data.tokens_per_step`` (on 1 and 2
processes), the optimizer and precision choices, compile off on the CPU."""

import pytest
import torch
from corpus_builder import read_metrics, torchrun, write_train_config

from training.config import ConfigError, OptimConfig, load_config
from training.generate import load_model
from training.model import ModelArgs, Transformer
from training.parallelize import checkpointed_blocks, resolve_compile, resolve_dtype
from training.train import main
from training.trainer import build_optimizer

STEPS = 4


def _losses(manifest, root, name, nproc=1, **sections):
    """Per-step losses of a short run (``log_every=1``)."""
    out = root / name
    training = {"steps": STEPS, "log_every": 1, **sections.pop("training", {})}
    cfg = write_train_config(root / f"{name}.yaml", manifest, out, training=training,
                             **sections)
    if nproc == 1:
        assert main([cfg]) == 0
    else:
        result = torchrun([cfg], nproc=nproc)
        assert result.returncode == 0, result.stderr[-2000:]
    metrics = read_metrics(out)
    assert [m["step"] for m in metrics] == list(range(1, STEPS + 1))
    return [m["loss"] for m in metrics]


def test_config_fields_and_their_errors(tiny_manifest, tmp_path):
    cfg_path = write_train_config(tmp_path / "t.yaml", tiny_manifest, tmp_path / "out")
    cfg = load_config(cfg_path)
    assert (cfg.training.dtype, cfg.training.compile, cfg.training.activation_checkpointing,
            cfg.training.meta_init, cfg.data.tokens_per_step) == ("auto", "auto", "none",
                                                                  True, None)
    assert cfg.data.accumulation_steps == 1
    cfg = load_config(cfg_path, ["data.tokens_per_step=2048", "training.compile=false"])
    assert cfg.data.accumulation_steps == 4 and cfg.training.compile is False  # 8 x 64 each
    with pytest.raises(ConfigError, match=r"^.*data.tokens_per_step \(1000\) must be a positive "
                                          r"multiple of data.global_batch_size \* data.seq_len "
                                          r"\(512\)$"):
        load_config(cfg_path, ["data.tokens_per_step=1000"])
    with pytest.raises(ConfigError, match="activation_checkpointing must be one of none, "
                                          "selective, full, got 'some'"):
        load_config(cfg_path, ["training.activation_checkpointing=some"])
    with pytest.raises(ConfigError, match="training.compile must be true, false or auto"):
        load_config(cfg_path, ["training.compile=1"])


def test_auto_choices_on_cpu_and_cuda():
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert resolve_dtype("auto", cpu) == "float32" and resolve_dtype("auto", cuda) == "bfloat16"
    assert resolve_dtype("float32", cuda) == "float32"
    assert resolve_compile("auto", cpu) is False and resolve_compile("auto", cuda) is True
    assert resolve_compile(True, cpu) is True and resolve_compile(False, cuda) is False
    assert checkpointed_blocks(5, "none") == []
    assert checkpointed_blocks(5, "selective") == [1, 3]
    assert checkpointed_blocks(5, "full") == [0, 1, 2, 3, 4]


def test_optimizer_is_foreach_on_cpu():
    model = Transformer(ModelArgs(vocab_size=32, dim=16, n_layers=1, n_heads=2))
    opt = build_optimizer(model, OptimConfig())
    assert opt.defaults["foreach"] is True and not opt.defaults["fused"]


@pytest.fixture(scope="module")
def baseline(tiny_manifest, tmp_path_factory):
    """Losses of the default run (meta init, no checkpointing, one micro-batch of 8)."""
    root = tmp_path_factory.mktemp("baseline")
    return root, _losses(tiny_manifest, root, "base")


@pytest.fixture(scope="module")
def baseline_two(tiny_manifest, baseline):
    """Losses of the default run on 2 processes (its final checkpoint: ``meta2``)."""
    root, _ = baseline
    return _losses(tiny_manifest, root, "meta2", nproc=2)


def test_meta_init_gives_the_weights_of_building_the_model_whole(tiny_manifest, baseline,
                                                                  baseline_two):
    root, losses = baseline
    # Same initial weights, so the same losses: exactly on one process...
    assert _losses(tiny_manifest, root, "eager", training={"meta_init": False}) == losses
    # ...and on two, where each rank keeps its shard of the same whole tensors.
    two_eager = _losses(tiny_manifest, root, "eager2", nproc=2,
                        training={"meta_init": False})
    assert baseline_two == two_eager
    assert baseline_two == pytest.approx(losses, rel=1e-4)


@pytest.mark.parametrize("mode", ["selective", "full"])
def test_activation_checkpointing_keeps_the_losses(tiny_manifest, baseline, mode):
    root, losses = baseline
    got = _losses(tiny_manifest, root, mode, training={"activation_checkpointing": mode,
                                                       "checkpoint_every": 2})
    assert got == pytest.approx(losses, rel=1e-5)


def test_two_micro_batches_equal_one_batch_of_both(tiny_manifest, baseline):
    root, losses = baseline
    # 2 micro-batches of 4 sequences = the same 8 samples per step as the baseline.
    got = _losses(tiny_manifest, root, "accum", data={"global_batch_size": 4,
                                                      "tokens_per_step": 8 * 64},
                  training={"checkpoint_every": 2})
    assert got == pytest.approx(losses, rel=1e-5)


def test_two_micro_batches_on_two_processes_equal_one_batch_of_both(tiny_manifest, baseline,
                                                                     baseline_two):
    root, _ = baseline
    # Each rank accumulates 2 micro-batches of 2 sequences (gradients reduced over the
    # ranks on the second only): the same 8 samples per step as the 2-process baseline,
    # so the same losses and, after the last step, the same weights.
    got = _losses(tiny_manifest, root, "accum2", nproc=2,
                  data={"global_batch_size": 4, "tokens_per_step": 8 * 64})
    assert got == pytest.approx(baseline_two, rel=1e-5)
    final = f"checkpoints/step-{STEPS:06d}"
    cfg = load_config(str(root / "meta2.yaml"))
    accumulated = load_model(str(root / "accum2" / final), cfg, torch.device("cpu"))[0]
    whole = load_model(str(root / "meta2" / final), cfg, torch.device("cpu"))[0]
    # AdamW divides by the root of each gradient's second moment, so where a gradient is
    # nearly 0 the rounding of the two summation orders moves the weight a little: updates
    # are about lr = 1e-2 a step, the weights agree to 1e-4.
    for (name, a), b in zip(accumulated.state_dict().items(), whole.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4, msg=lambda m: f"{name}: {m}")


def test_accumulating_run_resumes_exactly(tiny_manifest, baseline, capsys):
    root, _ = baseline
    data = {"global_batch_size": 2, "tokens_per_step": 8 * 64}  # 4 micro-batches
    full = _losses(tiny_manifest, root, "acc4", data=data, training={"checkpoint_every": 2})
    ckpt = root / "acc4" / "checkpoints" / "step-000002"
    resumed = root / "acc4-resumed"
    cfg = write_train_config(root / "resume.yaml", tiny_manifest, resumed, data=data,
                             training={"steps": STEPS, "log_every": 1,
                                       "resume_from": str(ckpt)})
    assert main([cfg]) == 0
    after = read_metrics(resumed)
    assert [m["step"] for m in after] == [3, 4]
    assert [m["loss"] for m in after] == pytest.approx(full[2:], rel=1e-6)
    # Another number of micro-batches per step would replay other samples: refused.
    capsys.readouterr()
    assert main([cfg, "--set", f"data.tokens_per_step={4 * 64}"]) == 2
    assert capsys.readouterr().err == (f"error: checkpoint {ckpt} was written with 4 "
                                       "micro-batches per step, this run has 2; refusing "
                                       "to resume\n")
