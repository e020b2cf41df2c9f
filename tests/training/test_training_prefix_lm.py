"""training.objectives.prefix_lm: a prefix drawn per (seed, index), loss after it only."""

import numpy as np
import pytest

from tokenizer.special_tokens import PAD, SPECIAL_TOKENS
from training.objectives import IGNORE_INDEX, transform
from training.objectives.prefix_lm import prefix_lm

TOKENS = np.arange(100, 165)  # seq_len 64


def test_loss_is_taken_only_after_the_prefix():
    for index in range(50):
        ex = prefix_lm(TOKENS, seed=0, index=index)
        p = ex.prefix
        assert (ex.targets[:p - 1] == IGNORE_INDEX).all()
        np.testing.assert_array_equal(ex.targets[p - 1:], TOKENS[p:])


def test_inputs_are_the_whole_window_and_restore_it():
    ex = prefix_lm(TOKENS, seed=0, index=3)
    np.testing.assert_array_equal(np.r_[ex.inputs, ex.targets[-1]], TOKENS)
    assert ex.inputs.shape == ex.targets.shape == (64,)
    assert ex.inputs.dtype == ex.targets.dtype == np.int64


def test_prefix_and_rest_are_never_empty_and_every_split_occurs():
    prefixes = {prefix_lm(np.arange(100, 105), seed=1, index=i).prefix for i in range(200)}
    assert prefixes == {1, 2, 3, 4}


def test_same_seed_and_index_give_the_same_prefix():
    a = transform("prefix_lm", TOKENS, seed=4, index=9)
    b = prefix_lm(TOKENS.copy(), seed=4, index=9)
    assert a.prefix == b.prefix
    np.testing.assert_array_equal(a.targets, b.targets)


def test_each_index_draws_a_fresh_prefix():
    # The same sequence one epoch later has another global index, so another split.
    prefixes = [prefix_lm(TOKENS, seed=0, index=7 + epoch * 1000).prefix for epoch in range(20)]
    assert len(set(prefixes)) > 10
    seeds = [[prefix_lm(TOKENS, seed=seed, index=i).prefix for i in range(10)] for seed in (0, 1)]
    assert seeds[0] != seeds[1]


def test_pad_targets_take_no_loss():
    pad = SPECIAL_TOKENS.index(PAD)
    tokens = np.r_[np.arange(100, 110), [pad] * 5]
    for index in range(20):
        ex = prefix_lm(tokens, seed=0, index=index)
        assert (ex.targets[9:] == IGNORE_INDEX).all()


def test_too_short_a_sequence_is_refused():
    with pytest.raises(ValueError, match="at least 2 ids"):
        prefix_lm(np.array([5]), seed=0, index=0)
