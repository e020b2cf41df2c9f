"""training.data.holdout: a fixed held-out slice per component that training never reads."""

import numpy as np
import pytest

from training.data.corpus import open_corpus
from training.data.holdout import heldout_indices, split
from training.data.loader import MixtureLoader
from training.data.sampler import MixtureSampler

SEQ_LEN = 32


def test_heldout_indices_are_fixed_distinct_and_at_most_half():
    picked = heldout_indices("code-python", 1000, 10)
    assert picked.dtype == np.int64 and len(set(picked.tolist())) == 10
    assert (np.diff(picked) > 0).all() and 0 <= picked[0] and picked[-1] < 1000
    np.testing.assert_array_equal(heldout_indices("code-python", 1000, 10), picked)
    assert not np.array_equal(heldout_indices("text-docs", 1000, 10), picked)
    assert len(heldout_indices("tiny", 7, 10)) == 3  # at most half a component
    assert len(heldout_indices("empty", 0, 10)) == 0
    assert len(heldout_indices("code-python", 1000, 0)) == 0


@pytest.fixture(scope="module")
def corpus_parts(tiny_manifest):
    corpus = open_corpus(tiny_manifest)
    packed = corpus.packed(SEQ_LEN)
    train, heldout = split(packed, 6)
    return corpus, packed, train, heldout


def test_split_parts_partition_each_component(corpus_parts):
    _, packed, train, heldout = corpus_parts
    for name, whole in packed.items():
        assert len(heldout[name]) == 6
        both = np.concatenate([train[name].indices, heldout[name].indices])
        np.testing.assert_array_equal(np.sort(both), np.arange(len(whole)))
        np.testing.assert_array_equal(heldout[name][2].tokens,
                                      whole[int(heldout[name].indices[2])].tokens)


def test_heldout_sequences_never_reach_a_training_batch(corpus_parts):
    corpus, packed, train, heldout = corpus_parts
    plan = corpus.mixture(train)
    assert plan.sequences == tuple(len(packed[n]) - 6 for n in plan.names)
    sampler = MixtureSampler(plan, 3)
    held = {name: set(part.indices.tolist()) for name, part in heldout.items()}
    # Every sample of two mixture epochs (a component repeats within an epoch too) comes
    # from the training part, and the loader reads that very sequence.
    for index in range(2 * plan.epoch_size):
        name, k = sampler.sample(index)
        assert int(train[name].indices[k]) not in held[name]
    loader = MixtureLoader(sampler, train, global_batch_size=8, rank=0, world_size=1,
                           objectives={name: "clm" for name in packed})
    for step in range(0, plan.epoch_size // 8, 7):
        batch = loader.batch(step)
        for row, index in enumerate(range(step * 8, step * 8 + 8)):
            name, k = sampler.sample(index)
            expected = packed[name][int(train[name].indices[k])].tokens[:-1]
            np.testing.assert_array_equal(batch.inputs[row].numpy(), expected)
