"""training.trainer's optimizer: which parameters decay, and parameters without a gradient
on a step stay where they were."""

from __future__ import annotations

import copy

import pytest
import torch

from training.config import ConfigError, OptimConfig
from training.model import ModelArgs, Transformer
from training.trainer import build_optimizer, parameter_groups, step_moving_only_trained


def _names(model: torch.nn.Module, group: dict) -> set[str]:
    ids = {id(p) for p in group["params"]}
    return {name for name, p in model.named_parameters() if id(p) in ids}


def test_norms_and_embeddings_do_not_decay_by_default():
    model = Transformer(ModelArgs(vocab_size=32, dim=16, n_layers=2, n_heads=2,
                                  embedding_dim=8))
    decay, keep = parameter_groups(model, OptimConfig(weight_decay=0.1))
    assert (decay["weight_decay"], keep["weight_decay"]) == (0.1, 0.0)
    assert _names(model, keep) == {"tok_embeddings.weight", "norm.weight",
                                   *(f"layers.{i}.{n}_norm.weight" for i in range(2)
                                     for n in ("attn", "mlp"))}
    assert _names(model, decay) == {
        "output.weight", *(f"heads.{h}.weight" for h in model.heads),
        *(f"layers.{i}.{m}.weight" for i in range(2)
          for m in ("attn.wqkv", "attn.wo", "mlp.w1", "mlp.w2", "mlp.w3"))}


def test_biases_and_layer_norms_do_not_decay_and_the_kinds_are_configurable():
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 4),
                                torch.nn.LayerNorm(4))
    decay, keep = parameter_groups(model, OptimConfig())
    assert _names(model, decay) == {"1.weight"}
    assert _names(model, keep) == {"0.weight", "1.bias", "2.weight", "2.bias"}
    decay, keep = parameter_groups(model, OptimConfig(no_decay=("bias",)))
    assert _names(model, decay) == {"0.weight", "1.weight", "2.weight"}
    assert _names(model, keep) == {"1.bias", "2.bias"}
    [every] = parameter_groups(model, OptimConfig(no_decay=()))
    assert _names(model, every) == {name for name, _ in model.named_parameters()}
    with pytest.raises(ConfigError, match="optim.no_decay: unknown kind"):
        OptimConfig(no_decay=("norms",))


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, use_b: bool,
          plain: bool = False) -> None:
    x = torch.ones(2, 4)
    loss = model.a(x).square().sum() + (model.b(x).square().sum() if use_b else 0)
    loss.backward()
    if plain:  # what the trainer did before: a zero gradient, then a normal step
        for p in model.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        optimizer.step()
    else:
        step_moving_only_trained(optimizer)
    optimizer.zero_grad(set_to_none=True)


def _two_heads() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Module()
    model.a, model.b = torch.nn.Linear(4, 4, bias=False), torch.nn.Linear(4, 4, bias=False)
    return model, build_optimizer(model, OptimConfig(lr=0.1, weight_decay=0.1))


def test_a_parameter_without_gradient_keeps_its_value_and_optimizer_state():
    model, optimizer = _two_heads()
    _step(model, optimizer, use_b=True)  # b now has momentum
    plain_model = copy.deepcopy(model)
    plain_opt = build_optimizer(plain_model, OptimConfig(lr=0.1, weight_decay=0.1))
    plain_opt.load_state_dict(optimizer.state_dict())
    b, a = model.b.weight.detach().clone(), model.a.weight.detach().clone()
    state = {k: v.clone() for k, v in optimizer.state[model.b.weight].items()}
    _step(model, optimizer, use_b=False)
    assert torch.equal(model.b.weight, b)
    assert all(torch.equal(v, state[k]) for k, v in optimizer.state[model.b.weight].items())
    assert not torch.equal(model.a.weight, a)
    # A normal step with a zero gradient moves it (momentum and weight decay).
    _step(plain_model, plain_opt, use_b=False, plain=True)
    assert not torch.equal(plain_model.b.weight, b)


def test_an_idle_first_step_leaves_fresh_state_for_every_parameter():
    model, optimizer = _two_heads()
    b = model.b.weight.detach().clone()
    _step(model, optimizer, use_b=False)
    assert torch.equal(model.b.weight, b)
    state = optimizer.state[model.b.weight]  # present, so checkpoints have every key
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"}
    assert all(not v.any() for v in state.values())
    # From then on b trains exactly as if its first step were now.
    fresh, fresh_opt = _two_heads()
    fresh.b.weight.data.copy_(b)
    _step(model, optimizer, use_b=True)
    _step(fresh, fresh_opt, use_b=True)
    assert torch.equal(model.b.weight, fresh.b.weight)
