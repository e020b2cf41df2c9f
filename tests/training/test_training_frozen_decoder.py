"""CodeT5+'s compute-efficient recipe: an encoder-decoder started from decoder-only
checkpoints (``model.init_decoder_from``, ``model.init_encoder_from``) with its decoder
frozen (``training.freeze: [decoder]``), on 2 processes (gloo, FSDP2)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from corpus_builder import read_metrics, torchrun, write_train_config
from torch.distributed.checkpoint import FileSystemReader

from shards import load_manifest
from training.checkpoint import CheckpointError
from training.config import ConfigError, load_config
from training.generate import load_model, run_config
from training.model import ModelArgs, Transformer, in_decoder
from training.parallelize import device_mesh, parallelize
from training.pretrained import load_pretrained
from training.train import main

STEPS = 6
ENCODER_DECODER = {"architecture": "encoder_decoder", "encoder_layers": 1}
OBJECTIVES = {"objective": "t5_span", "objective_per_component": {"text-docs": "seq2seq_lm"}}


def _config(path, manifest, out, decoder_checkpoint, **training):
    model = {**ENCODER_DECODER, "init_decoder_from": decoder_checkpoint,
             "init_encoder_from": decoder_checkpoint}
    return write_train_config(path, manifest, out, model=model, training={
        **OBJECTIVES, "steps": STEPS, "log_every": 1, "freeze": ["decoder"],
        "checkpoint_every": 3, **training})


@pytest.fixture(scope="module")
def frozen(tiny_manifest, trained_checkpoint, tmp_path_factory):
    """(config, output folder) of a frozen-decoder run on 2 processes."""
    root = tmp_path_factory.mktemp("frozen")
    cfg = _config(root / "frozen.yaml", tiny_manifest, root / "out", trained_checkpoint[1])
    result = torchrun([cfg])
    assert result.returncode == 0, result.stderr[-2000:]
    return cfg, root / "out"


def _weights(checkpoint: str) -> dict[str, torch.Tensor]:
    model = load_model(checkpoint, run_config(checkpoint), torch.device("cpu"))[0]
    return model.state_dict()


def test_frozen_parameters_are_bit_identical_after_training(frozen, trained_checkpoint):
    _, out = frozen
    decoder_only = _weights(trained_checkpoint[1])
    trained = _weights(str(out / "checkpoints" / f"step-{STEPS:06d}"))
    frozen_names = [n for n in trained if in_decoder(n)]
    assert "output.weight" in frozen_names and "layers.1.mlp.w2.weight" in frozen_names
    for name in frozen_names:  # as loaded from the decoder-only run, after 6 steps
        assert torch.equal(trained[name], decoder_only[name]), name
    # The encoder was loaded from the same checkpoint and then trained away from it.
    encoder = trained["encoder.layers.0.attn.wqkv.weight"]
    start = decoder_only["layers.0.attn.wqkv.weight"]
    assert not torch.equal(encoder, start)
    assert (encoder - start).abs().max() < 0.1  # lr 1e-2, 6 steps: moved, not replaced


def test_the_optimizer_holds_state_only_for_trainable_parameters(frozen):
    _, out = frozen
    saved = FileSystemReader(str(out / "checkpoints" / f"step-{STEPS:06d}")).read_metadata()
    optimized = {key[len("optim.state."):].rsplit(".", 1)[0]
                 for key in saved.state_dict_metadata if key.startswith("optim.state.")}
    names = [key[len("model."):] for key in saved.state_dict_metadata
             if key.startswith("model.")]
    trainable = {n for n in names if not in_decoder(n)}
    assert optimized == trainable
    assert "layers.0.cross_attn.wq.weight" in trainable and "encoder.norm.weight" in trainable


def test_the_loaded_run_starts_ahead_and_resumes_exactly(frozen, tmp_path):
    cfg, out = frozen
    losses = {m["step"]: m["loss"] for m in read_metrics(out)}
    # A fresh model starts at about ln(512) = 6.24 (measured 6.26); the decoder trained 4
    # steps already predicts better, through an encoder and cross-attention it never saw
    # (measured 5.78).
    assert losses[1] < math.log(512) - 0.3
    resumed = tmp_path / "resumed"
    assert main([cfg, "--set", f"training.resume_from={out}/checkpoints/step-000003",
                 "--set", f"training.output_dir={resumed}"]) == 0
    again = {m["step"]: m["loss"] for m in read_metrics(resumed)}
    assert sorted(again) == [4, 5, 6]
    for step, loss in again.items():  # 1 process sums in another order than 2
        assert loss == pytest.approx(losses[step], rel=1e-5), step


def _model(cfg_path: str, **model) -> Transformer:
    cfg = load_config(cfg_path)
    vocab = load_manifest(cfg.data.manifest, verify=False).tokenizer.vocab_size
    args = ModelArgs.from_config(dataclasses.replace(cfg.model, **model), vocab_size=vocab,
                                 seq_len=cfg.data.seq_len)
    return parallelize(Transformer(args), device_mesh(1))


def test_loading_fills_both_halves_and_leaves_cross_attention(group, tiny_manifest,
                                                              trained_checkpoint, tmp_path):
    checkpoint = trained_checkpoint[1]
    cfg = load_config(_config(tmp_path / "c.yaml", tiny_manifest, tmp_path, checkpoint))
    model = _model(str(tmp_path / "c.yaml"))
    fresh = {k: v.full_tensor().clone() for k, v in model.state_dict().items()}
    sha = load_manifest(tiny_manifest, verify=False).tokenizer.sha256
    load_pretrained(model, cfg.model, tokenizer_sha256=sha)
    loaded = {k: v.full_tensor() for k, v in model.state_dict().items()}
    source = _weights(checkpoint)
    for name, value in loaded.items():
        if name.startswith("encoder."):
            assert torch.equal(value, source[name[len("encoder."):]]), name
        elif in_decoder(name):
            assert torch.equal(value, source[name]), name
        else:  # cross-attention keeps its fresh initialisation
            assert ".cross_" in name and torch.equal(value, fresh[name]), name


def test_a_checkpoint_that_does_not_fit_is_refused_in_one_line(group, tiny_manifest,
                                                               trained_checkpoint, tmp_path):
    checkpoint = trained_checkpoint[1]
    cfg = load_config(_config(tmp_path / "c.yaml", tiny_manifest, tmp_path, checkpoint))
    sha = load_manifest(tiny_manifest, verify=False).tokenizer.sha256
    shallow = dataclasses.replace(cfg.model, n_layers=1)
    with pytest.raises(CheckpointError, match=r"has layers\.1\.attn\.wo\.weight, which this "
                                              r"config's decoder of 1 blocks lacks$"):
        load_pretrained(_model(str(tmp_path / "c.yaml"), n_layers=1), shallow,
                        tokenizer_sha256=sha)
    with pytest.raises(CheckpointError, match=r"has tok_embeddings\.weight of shape "
                                              r"\[512, 64\], not \[512, 32\]; its model must "
                                              r"have this config's dim"):
        load_pretrained(_model(str(tmp_path / "c.yaml"), dim=32), cfg.model,
                        tokenizer_sha256=sha)
    with pytest.raises(CheckpointError, match=r"was trained with tokenizer .*, this corpus "
                                              r"has 000000000000…: its embeddings would mean "
                                              r"other tokens$"):
        load_pretrained(_model(str(tmp_path / "c.yaml")), cfg.model,
                        tokenizer_sha256="0" * 64)


def test_config_refusals(tiny_manifest, tmp_path):
    cfg = write_train_config(tmp_path / "d.yaml", tiny_manifest, tmp_path / "out")
    with pytest.raises(ConfigError, match=r"model.init_decoder_from applies to "
                                          r"model.architecture encoder_decoder only"):
        load_config(cfg, ["model.init_decoder_from=/some/step-000010"])
    with pytest.raises(ConfigError, match=r"training.freeze: \[decoder\] needs "
                                          r"model.architecture: encoder_decoder"):
        load_config(cfg, ["training.freeze=[decoder]"])
    with pytest.raises(ConfigError, match=r"training.freeze: unknown part\(s\) \['encoder'\] "
                                          r"\(have: decoder\)$"):
        load_config(cfg, ["training.freeze=[encoder]"])
