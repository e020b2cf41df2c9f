"""training.checkpoint: DCP save/load of model, optimizer and trainer state."""

import dataclasses

import pytest
import torch
import torch.distributed as dist

from training import checkpoint
from training.checkpoint import CheckpointError, TrainerState
from training.model import ModelArgs, Transformer
from training.parallelize import device_mesh, parallelize

ARGS = ModelArgs(vocab_size=64, dim=16, n_layers=2, n_heads=2, mlp_ratio=2.0, max_seq_len=8)
STATE = TrainerState(step=3, seed=0, global_batch_size=8, manifest_sha256="a" * 64,
                     mixture_sha256="b" * 64, data={"step": 3, "global_batch_size": 8})


def build(seed):
    torch.manual_seed(seed)
    model = parallelize(Transformer(ARGS), device_mesh(1))
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def train_one_step(model, optimizer):
    tokens = torch.randint(0, 64, (2, 8))
    model(tokens).float().square().mean().backward()
    optimizer.step()
    optimizer.zero_grad()


def full(model):
    return {k: v.full_tensor().clone() for k, v in model.state_dict().items()}


def test_checkpoint_loads_again(group, tmp_path):
    model, optimizer = build(0)
    train_one_step(model, optimizer)
    checkpoint.save(str(tmp_path / "ckpt"), model, optimizer, STATE, {})

    other, other_optimizer = build(1)
    restored = checkpoint.load(str(tmp_path / "ckpt"), other, other_optimizer,
                               expected=dataclasses.replace(STATE, step=0, data={}))
    assert restored == STATE
    for key, value in full(model).items():
        torch.testing.assert_close(full(other)[key], value)
    # The optimizer state came back too: one more identical step keeps them equal.
    torch.manual_seed(5)
    train_one_step(model, optimizer)
    torch.manual_seed(5)
    train_one_step(other, other_optimizer)
    for key, value in full(model).items():
        torch.testing.assert_close(full(other)[key], value)


def test_checkpoint_of_another_manifest_is_refused(group, tmp_path):
    model, optimizer = build(0)
    checkpoint.save(str(tmp_path / "ckpt"), model, optimizer, STATE, {})
    other, other_optimizer = build(1)
    before = full(other)
    with pytest.raises(CheckpointError) as err:
        checkpoint.load(str(tmp_path / "ckpt"), other, other_optimizer,
                        expected=dataclasses.replace(STATE, manifest_sha256="c" * 64))
    assert str(err.value) == (f"checkpoint {tmp_path / 'ckpt'} was written with manifest "
                              f"aaaaaaaaaaaa…, this run has cccccccccccc…; refusing to resume")
    for key, value in before.items():  # nothing was loaded
        torch.testing.assert_close(full(other)[key], value)


def test_checkpoint_of_another_seed_is_refused(group, tmp_path):
    model, optimizer = build(0)
    checkpoint.save(str(tmp_path / "ckpt"), model, optimizer, STATE, {})
    with pytest.raises(CheckpointError, match="with seed 0, this run has 1"):
        checkpoint.load(str(tmp_path / "ckpt"), model, optimizer,
                        expected=dataclasses.replace(STATE, seed=1))


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="^no checkpoint at "):
        checkpoint.read_state(str(tmp_path / "nothing"), no_dist=True)


def test_state_is_readable_without_a_group(group, tmp_path):
    model, optimizer = build(0)
    checkpoint.save(str(tmp_path / "ckpt"), model, optimizer, STATE, {})
    dist.destroy_process_group()
    assert checkpoint.read_state(str(tmp_path / "ckpt"), no_dist=True) == STATE


def test_a_checkpoint_stores_its_run_beside_the_weights(group, tmp_path):
    model, optimizer = build(0)
    run = {"config": {"data": {"manifest": "/m.json"}}, "manifest": "/m.json",
           "manifest_sha256": "a" * 64}
    checkpoint.save(str(tmp_path / "ckpt"), model, optimizer, STATE, run)
    assert checkpoint.read_run(str(tmp_path / "ckpt")) == run


def test_pruning_keeps_the_newest_complete_checkpoints(group, tmp_path):
    model, optimizer = build(0)
    for step in (5, 10, 15, 20):
        checkpoint.save(checkpoint.checkpoint_path(str(tmp_path), step), model, optimizer,
                        dataclasses.replace(STATE, step=step), {})
    (tmp_path / "step-000025").mkdir()  # a save killed before DCP's metadata
    assert checkpoint.prune(str(tmp_path), 2) == [str(tmp_path / "step-000005"),
                                                  str(tmp_path / "step-000010")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000015", "step-000020",
                                                          "step-000025"]
    assert checkpoint.latest(str(tmp_path)) == str(tmp_path / "step-000020")
    assert checkpoint.prune(str(tmp_path), 0) == []
