"""training.benchmark.passk against values computed by hand from C(n - c, k) / C(n, k)."""

from __future__ import annotations

import math

import pytest

from training.benchmark.passk import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize("n, c, k, expected", [
    (5, 2, 1, 2 / 5),                 # pass@1 is the pass rate
    (5, 2, 2, 1 - 3 / 10),            # 1 - C(3,2)/C(5,2)
    (4, 1, 3, 1 - 1 / 4),             # 1 - C(3,3)/C(4,3)
    (10, 3, 5, 1 - 21 / 252),         # 1 - C(7,5)/C(10,5)
    (200, 1, 100, 0.5),               # 1 - C(199,100)/C(200,100) = 1 - 100/200
    (10, 0, 10, 0.0),
    (10, 10, 1, 1.0),
    (6, 4, 3, 1.0),                   # n - c < k: every draw of 3 holds a pass
])
def test_matches_hand_computed_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_is_the_ratio_of_binomials_for_large_n():
    # The product form must agree with exact integer binomials where floats would overflow.
    for c, k in ((17, 1), (17, 10), (17, 100), (500, 100)):
        exact = 1 - math.comb(1000 - c, k) / math.comb(1000, k)
        assert pass_at_k(1000, c, k) == pytest.approx(exact, rel=1e-9)


def test_is_not_the_biased_naive_estimate():
    naive = 1 - (1 - 2 / 5) ** 2
    assert pass_at_k(5, 2, 2) != pytest.approx(naive)


def test_the_mean_is_over_problems():
    assert mean_pass_at_k([(5, 2), (5, 0), (5, 5)], 1) == pytest.approx((0.4 + 0 + 1) / 3)


@pytest.mark.parametrize("n, c, k", [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6), (0, 0, 1)])
def test_impossible_counts_are_refused(n, c, k):
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(n, c, k)
    with pytest.raises(ValueError):
        mean_pass_at_k([], 1)
