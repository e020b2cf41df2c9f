"""training.trainer.lr_at: linear warmup, then cosine decay to min_lr_ratio."""

import math

import pytest

from training.trainer import lr_at

KW = dict(lr=1.0, warmup_steps=10, total_steps=110, min_lr_ratio=0.1)


def test_warmup_is_linear():
    assert [lr_at(s, **KW) for s in range(10)] == pytest.approx([(s + 1) / 10 for s in range(10)])


def test_peak_at_end_of_warmup():
    assert lr_at(9, **KW) == pytest.approx(1.0)
    assert lr_at(10, **KW) == pytest.approx(1.0)


def test_cosine_ends_at_min_lr():
    assert lr_at(109, **KW) == pytest.approx(0.1)
    assert lr_at(500, **KW) == pytest.approx(0.1)


def test_cosine_midpoint_and_monotone():
    middle = 10 + (109 - 10) / 2
    assert lr_at(int(middle), **KW) == pytest.approx(
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (int(middle) - 10) / 99)))
    values = [lr_at(s, **KW) for s in range(10, 110)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_no_warmup_starts_at_peak():
    assert lr_at(0, lr=2.0, warmup_steps=0, total_steps=5, min_lr_ratio=0.0) == 2.0
    assert lr_at(4, lr=2.0, warmup_steps=0, total_steps=5, min_lr_ratio=0.0) == pytest.approx(0.0)
