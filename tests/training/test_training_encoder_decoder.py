"""training.model as an encoder-decoder (``model.architecture: encoder_decoder``): who sees
whom, padding, its config, and the FSDP2 path (meta init, activation checkpointing)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from training.config import ConfigError, ModelConfig
from training.model import ModelArgs, Transformer
from training.parallelize import device_mesh, materialize, parallelize

ARGS = ModelArgs(vocab_size=100, dim=32, n_layers=2, n_heads=4, mlp_ratio=2.0, max_seq_len=16,
                 encoder_layers=1)


def _pair(seed: int = 0) -> tuple[Transformer, torch.Tensor, torch.Tensor]:
    """A model in eval mode, encoder ids ``[2, 12]`` and decoder ids ``[2, 10]``."""
    torch.manual_seed(seed)
    model = Transformer(ARGS).eval()
    return model, torch.randint(0, 100, (2, 12)), torch.randint(0, 100, (2, 10))


def _bump(ids: torch.Tensor, position: int) -> torch.Tensor:
    changed = ids.clone()
    changed[:, position] = (changed[:, position] + 1) % 100
    return changed


def test_shapes_and_parameters():
    model, source, target = _pair()
    assert model(target, encoder_tokens=source).shape == (2, 10, 100)
    assert list(model.encoder.layers.keys()) == ["0"] and list(model.layers.keys()) == ["0", "1"]
    names = set(dict(model.named_parameters()))
    assert "layers.0.cross_attn.wq.weight" in names and "layers.1.cross_norm.weight" in names
    assert not any(n.startswith("encoder.layers.0.cross") for n in names)
    # The decoder keeps the decoder-only names: a decoder-only model's parameters are the
    # encoder-decoder's minus the encoder and the cross-attention.
    decoder_only = set(dict(Transformer(dataclasses.replace(ARGS, encoder_layers=0))
                            .named_parameters()))
    assert decoder_only == {n for n in names
                            if not n.startswith("encoder.") and ".cross_" not in n}


def test_an_encoder_decoder_needs_encoder_tokens_and_a_decoder_takes_none():
    model, source, target = _pair()
    with pytest.raises(ValueError, match="needs encoder_tokens"):
        model(target)
    decoder = Transformer(dataclasses.replace(ARGS, encoder_layers=0))
    with pytest.raises(ValueError, match="a decoder takes none"):
        decoder(target, encoder_tokens=source)


def test_the_encoder_is_bidirectional():
    model, source, target = _pair()
    with torch.no_grad():
        hidden, _ = model._encode(source, None)
        changed, _ = model._encode(_bump(source, 9), None)
    # Position 9 changed: the encoder's earlier positions see it too.
    assert not torch.allclose(hidden[:, :9], changed[:, :9])


def test_the_decoder_is_causal():
    model, source, target = _pair()
    with torch.no_grad():
        a = model(target, encoder_tokens=source)
        b = model(_bump(target, 6), encoder_tokens=source)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_every_decoder_position_reads_the_encoder():
    model, source, target = _pair()
    with torch.no_grad():
        a = model(target, encoder_tokens=source)
        b = model(target, encoder_tokens=_bump(source, 11))  # the encoder's last token
    # Cross-attention sees the whole encoder output, so even the first decoder position
    # changes.
    assert not torch.isclose(a, b).all(dim=-1).any()


def test_encoder_padding_is_invisible():
    model, source, target = _pair()
    lengths = torch.tensor([12, 7])
    with torch.no_grad():
        a = model(target, encoder_tokens=source, encoder_lengths=lengths)
        padded = source.clone()
        padded[1, 7:] = (padded[1, 7:] + 3) % 100  # change only row 1's padding
        b = model(target, encoder_tokens=padded, encoder_lengths=lengths)
        # Row 1 truncated to its 7 real tokens reads the same.
        c = model(target[1:], encoder_tokens=source[1:, :7])
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a[1:], c)


def test_config_architecture_and_its_errors():
    cfg = ModelConfig(architecture="encoder_decoder", encoder_layers=2)
    assert cfg.encoder_decoder and not ModelConfig().encoder_decoder
    args = ModelArgs.from_config(cfg, vocab_size=100, seq_len=64)
    # An encoder-decoder's halves each take up to the whole packed window.
    assert (args.encoder_layers, args.max_seq_len) == (2, 65)
    assert ModelArgs.from_config(ModelConfig(), vocab_size=100, seq_len=64).max_seq_len == 64
    with pytest.raises(ConfigError, match=r"^model.architecture must be one of decoder, "
                                          r"encoder_decoder, got 't5'$"):
        ModelConfig(architecture="t5")
    with pytest.raises(ConfigError, match=r"^model.encoder_layers must be positive for "
                                          r"model.architecture encoder_decoder, got 0$"):
        ModelConfig(architecture="encoder_decoder")
    with pytest.raises(ConfigError, match=r"^model.encoder_layers applies to "
                                          r"model.architecture encoder_decoder only"):
        ModelConfig(encoder_layers=2)


def test_residual_outputs_are_scaled_per_stack():
    torch.manual_seed(0)
    model = Transformer(dataclasses.replace(ARGS, dim=64, encoder_layers=4, n_layers=3))
    model.init_weights(seed=0)
    # GPT-2's 0.02 / sqrt(branches * depth): 2 branches x 4 encoder blocks, 3 x 3 decoder.
    encoder_wo = model.encoder.layers["0"].attn.wo.weight
    decoder_wo = torch.cat([b.cross_attn.wo.weight for b in model.layers.values()])
    assert encoder_wo.std().item() == pytest.approx(0.02 / 8 ** 0.5, rel=0.1)
    assert decoder_wo.std().item() == pytest.approx(0.02 / 9 ** 0.5, rel=0.1)


@pytest.mark.parametrize("mode", ["none", "full"])
def test_sharded_meta_model_equals_the_whole_one(group, mode):
    whole = Transformer(ARGS)
    whole.init_weights(seed=3)
    with torch.device("meta"):
        sharded = Transformer(ARGS)
    parallelize(sharded, device_mesh(1), activation_checkpointing=mode)
    materialize(sharded, torch.device("cpu"), seed=3)
    source, target = torch.randint(0, 100, (2, 12)), torch.randint(0, 100, (2, 10))
    lengths = torch.tensor([12, 5])
    for model in (whole, sharded):
        model(target, encoder_tokens=source, encoder_lengths=lengths).square().mean().backward()
    # Same weights, so the same gradients, the encoder's among them.
    grads = {name.replace("._checkpoint_wrapped_module", ""): p.grad.full_tensor()
             for name, p in sharded.named_parameters()}
    assert grads.keys() == dict(whole.named_parameters()).keys()
    for name, param in whole.named_parameters():
        torch.testing.assert_close(grads[name], param.grad, msg=lambda m: f"{name}: {m}")
