"""training.objectives.seq2seq_lm: CodeT5+'s causal LM split, layout checked exactly."""

from __future__ import annotations

import numpy as np
import pytest

from training.objectives.seq2seq_lm import pivot_bounds, seq2seq_lm


def window(n: int) -> np.ndarray:
    return np.arange(500, 500 + n, dtype=np.int64)


def test_the_encoder_reads_before_the_pivot_and_the_decoder_writes_the_rest():
    example = seq2seq_lm(window(10), seed=0, index=0)
    pivot = len(example.inputs)
    assert example.inputs.tolist() == list(range(500, 500 + pivot))
    assert example.targets.tolist() == list(range(500 + pivot, 510))  # no end token added
    assert example.inputs.dtype == example.targets.dtype == np.int64


def test_pivots_cover_ten_to_ninety_percent_uniformly():
    pivots = [len(seq2seq_lm(window(100), seed=1, index=i).inputs) for i in range(4000)]
    assert min(pivots) == 10 and max(pivots) == 90
    counts = np.bincount(pivots, minlength=91)[10:91]
    assert counts.min() > 0.5 * counts.mean() and counts.max() < 1.5 * counts.mean()


@pytest.mark.parametrize("n, bounds", [(2, (1, 1)), (3, (1, 2)), (10, (1, 9)),
                                       (100, (10, 90)), (2049, (205, 1844))])
def test_pivot_bounds_keep_both_parts_non_empty(n, bounds):
    assert pivot_bounds(n) == bounds
    for index in range(20):
        example = seq2seq_lm(window(n), seed=0, index=index)
        assert bounds[0] <= len(example.inputs) <= bounds[1]
        assert np.array_equal(np.concatenate([example.inputs, example.targets]), window(n))


def test_randomness_is_a_function_of_seed_and_index():
    split = lambda seed, index: len(seq2seq_lm(window(1000), seed=seed, index=index).inputs)
    assert split(3, 9) == split(3, 9)
    assert len({split(3, i) for i in range(10)}) > 1
    assert len({split(s, 9) for s in range(10)}) > 1


def test_a_fixed_pivot_range_gives_that_pivot():
    example = seq2seq_lm(window(10), seed=0, index=0, pivot_range=(0.3, 0.3))
    assert example.inputs.tolist() == [500, 501, 502]


def test_impossible_inputs_are_refused():
    with pytest.raises(ValueError, match="at least 2 tokens"):
        seq2seq_lm(window(1), seed=0, index=0)
    with pytest.raises(ValueError, match="pivot_range"):
        seq2seq_lm(window(10), seed=0, index=0, pivot_range=(0.9, 0.1))
    with pytest.raises(ValueError, match="1-D"):
        seq2seq_lm(np.zeros((2, 3), np.int64), seed=0, index=0)
