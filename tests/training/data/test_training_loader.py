"""training.data.loader: per-rank slices of the global batch, and the data position."""

import pytest
import torch

from training.config import ConfigError
from training.data.corpus import open_corpus
from training.data.loader import MixtureLoader, rank_slice
from training.data.sampler import MixtureSampler


@pytest.mark.parametrize("world", [1, 2, 4, 8])
def test_rank_slices_partition_the_global_batch(world):
    for step in range(3):
        parts = [list(rank_slice(step, 8, r, world)) for r in range(world)]
        assert sum(parts, []) == list(range(step * 8, (step + 1) * 8))


def test_global_batch_must_divide():
    with pytest.raises(ConfigError, match=r"global_batch_size \(8\) must be divisible .* \(3\)"):
        rank_slice(0, 8, 0, 3)


@pytest.fixture(scope="module")
def parts(tiny_manifest):
    corpus = open_corpus(tiny_manifest)
    packed = corpus.packed(32)
    return MixtureSampler(corpus.mixture(packed), 5), packed


def loader(parts, rank=0, world=1, objective="clm", **per_component):
    sampler, packed = parts
    objectives = {name: per_component.get(name, objective) for name in packed}
    return MixtureLoader(sampler, packed, global_batch_size=8, rank=rank, world_size=world,
                         objectives=objectives)


def test_ranks_together_give_the_one_rank_batch(parts):
    whole = loader(parts).batch(3)
    halves = [loader(parts, r, 2).batch(3) for r in range(2)]
    assert halves[0][0].shape == (4, 32)
    torch.testing.assert_close(torch.cat([h[0] for h in halves]), whole[0])
    torch.testing.assert_close(torch.cat([h[1] for h in halves]), whole[1])


def test_state_dict_resumes_the_data_position(parts):
    a = loader(parts)
    for _ in range(3):
        a.next_batch()
    b = loader(parts, rank=1, world=2)
    b.load_state_dict(a.state_dict())
    assert b.step == 3
    torch.testing.assert_close(b.next_batch()[0], a.next_batch()[0][4:])


def test_state_from_another_global_batch_is_refused(parts):
    with pytest.raises(ValueError, match="global_batch_size 16"):
        loader(parts).load_state_dict({"step": 1, "global_batch_size": 16})


def test_only_a_prefix_objective_gives_prefix_lengths(parts):
    assert loader(parts).batch(0).prefix is None
    batch = loader(parts, objective="prefix_lm").batch(0)
    assert batch.prefix.shape == (8,) and batch.prefix.dtype == torch.int64
    assert ((batch.prefix >= 1) & (batch.prefix <= 32)).all()
    halves = [loader(parts, r, 2, objective="prefix_lm").batch(0) for r in range(2)]
    torch.testing.assert_close(torch.cat([h.prefix for h in halves]), batch.prefix)


def test_each_component_gets_its_own_objective(parts):
    sampler, _ = parts
    mixed = loader(parts, objective="clm", **{"text-docs": "prefix_lm"})
    assert mixed.objective_names == ("clm", "prefix_lm")
    # The first batch holding both components.
    step, names = next((step, names) for step in range(100) if len(set(
        names := [sampler.sample(i)[0] for i in range(step * 8, step * 8 + 8)])) == 2)
    batch = mixed.batch(step)
    assert batch.group.tolist() == [int(n == "text-docs") for n in names]
    # Only prefix-LM rows have a bidirectional prefix; CLM rows are untouched.
    clm = loader(parts).batch(step)
    for row, name in enumerate(names):
        if name == "code-python":
            assert batch.prefix[row] == 0
            torch.testing.assert_close(batch.targets[row], clm.targets[row])
        else:
            assert batch.prefix[row] >= 1


def test_a_component_without_an_objective_is_refused(parts):
    sampler, packed = parts
    with pytest.raises(ValueError, match="no objective for component 'text-docs'"):
        MixtureLoader(sampler, packed, global_batch_size=8, rank=0, world_size=1,
                      objectives={"code-python": "clm"})
