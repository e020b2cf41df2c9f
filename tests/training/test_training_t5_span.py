"""training.objectives.t5_span: T5 span denoising, layout checked token by token."""

from __future__ import annotations

import numpy as np
import pytest

from tokenizer.special_tokens import SpecialIds
from training.objectives.t5_span import lengths, span_counts, t5_span

CODEMIX = SpecialIds.default()
EOT = CODEMIX.eot
M = CODEMIX.masks  # M[0] is <mask_1>


def window(n: int) -> np.ndarray:
    return np.arange(1000, 1000 + n, dtype=np.int64)  # no special ids among them


def spans_of(example, specials=CODEMIX):
    """Undo the layout: (kept runs, masked spans) as lists, checking it on the way."""
    inputs, targets = example.inputs.tolist(), example.targets.tolist()
    assert targets[-1] == specials.eot and specials.eot not in targets[:-1]
    sentinels = [t for t in inputs if t in specials.masks]
    assert sentinels == list(specials.masks[:len(sentinels)])  # <mask_1>, <mask_2>, ... in order
    assert [t for t in targets if t in specials.masks] == sentinels
    kept, run = [], []
    for t in inputs:
        if t in specials.masks:
            kept.append(run)
            run = []
        else:
            run.append(t)
    assert run == []  # the inputs end with a sentinel: T5's last run is noise
    masked, run = [], None
    for t in targets[:-1]:
        if t in specials.masks:
            if run is not None:
                masked.append(run)
            run = []
        else:
            run.append(t)
    masked.append(run)
    assert targets[0] == specials.masks[0]
    return kept, masked


def test_a_short_window_has_one_span_at_its_end():
    # 20 tokens: round(0.15 * 20) = 3 masked in round(3 / 3) = 1 span; T5 ends with noise.
    example = t5_span(window(20), seed=0, index=0)
    tokens = window(20).tolist()
    assert example.inputs.tolist() == tokens[:17] + [M[0]]
    assert example.targets.tolist() == [M[0]] + tokens[17:] + [EOT]
    assert example.inputs.dtype == example.targets.dtype == np.int64


def test_the_layout_of_two_spans():
    # 40 tokens: 6 masked in 2 spans, 34 kept in 2 runs; this (seed, index) draws
    # kept 31, masked 3, kept 3, masked 3.
    t = window(40).tolist()
    example = t5_span(window(40), seed=0, index=0)
    assert example.inputs.tolist() == t[:31] + [M[0]] + t[34:37] + [M[1]]
    assert example.targets.tolist() == [M[0]] + t[31:34] + [M[1]] + t[37:40] + [EOT]


@pytest.mark.parametrize("n", [2, 3, 7, 20, 64, 200, 513, 2048])
def test_sentinels_and_spans_put_back_give_the_window(n):
    for index in range(5):
        example = t5_span(window(n), seed=3, index=index)
        kept, masked = spans_of(example)
        assert len(kept) == len(masked) and all(kept) and all(masked)
        rebuilt = [t for k, m in zip(kept, masked) for t in k + m]
        assert rebuilt == window(n).tolist()
        assert (len(example.inputs), len(example.targets)) == lengths(n)
        noise, spans = span_counts(n)
        assert len(masked) == spans and sum(map(len, masked)) == noise


def test_counts_follow_the_paper_and_the_sentinel_cap():
    assert span_counts(200) == (30, 10)        # density 0.15, mean span length 3
    assert span_counts(2048) == (307, 32)      # capped at the 32 sentinels: longer spans
    assert span_counts(2) == (1, 1)            # one masked, one kept, at least
    assert span_counts(100, noise_density=0.5, mean_span_length=1) == (50, 32)
    assert span_counts(100, noise_density=0.5, mean_span_length=1, max_spans=64) == (50, 50)
    assert lengths(200) == (200 - 30 + 10, 30 + 10 + 1)


def test_randomness_is_a_function_of_seed_and_index():
    draw = lambda seed, index: t5_span(window(200), seed=seed, index=index)
    assert all(np.array_equal(a, b) for a, b in zip(draw(1, 7), draw(1, 7)))
    assert not np.array_equal(draw(1, 7).inputs, draw(1, 8).inputs)
    assert not np.array_equal(draw(1, 7).inputs, draw(2, 7).inputs)


def test_span_lengths_vary_and_average_the_mean():
    lengths_seen = [len(m) for index in range(300)
                    for m in spans_of(t5_span(window(200), seed=0, index=index))[1]]
    assert np.mean(lengths_seen) == pytest.approx(3.0)  # 30 tokens in 10 spans, always
    assert min(lengths_seen) == 1 and max(lengths_seen) > 6


def test_the_corpus_special_ids_are_used():
    foreign = SpecialIds(eot=7, masks=(50, 51, 52))
    example = t5_span(window(200), seed=0, index=0, specials=foreign)
    kept, masked = spans_of(example, foreign)
    assert len(masked) == 3 and sum(map(len, masked)) == 30  # capped at its 3 sentinels
    assert example.targets[-1] == 7


@pytest.mark.parametrize("kwargs, message", [
    ({"noise_density": 0.0}, "noise_density"),
    ({"noise_density": 1.0}, "noise_density"),
    ({"mean_span_length": 0.5}, "mean_span_length"),
])
def test_impossible_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        t5_span(window(20), seed=0, index=0, **kwargs)


def test_impossible_windows_are_refused():
    with pytest.raises(ValueError, match="at least 2 tokens"):
        t5_span(window(1), seed=0, index=0)
    with pytest.raises(ValueError, match="1-D"):
        t5_span(np.zeros((2, 4), np.int64), seed=0, index=0)
    with pytest.raises(ValueError, match="<mask_1>"):
        t5_span(window(20), seed=0, index=0, specials=SpecialIds(eot=0))
