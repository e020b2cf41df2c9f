"""The unbiased pass@k estimator of Chen et al. (2021, arXiv:2107.03374, section 2.1).

Draw ``n >= k`` samples per problem, count the ``c`` that pass, and estimate the chance
that at least one of ``k`` samples passes as ``1 - C(n - c, k) / C(n, k)``: one minus the
chance that ``k`` samples drawn without replacement from the ``n`` are all failures. The
naive ``1 - (1 - c/n) ** k`` is biased low; this one is unbiased for every ``k <= n``.

The ratio of binomials is computed as the product ``prod_{i=n-c+1}^{n} (1 - k / i)``, as
in the paper's numerically stable form, so ``n`` in the hundreds neither overflows nor
loses precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of ``k`` of the ``n`` samples passes, given ``c`` did.

    Args:
        n: samples drawn for the problem, at least 1.
        c: how many of them passed, ``0 <= c <= n``.
        k: the budget being estimated, ``1 <= k <= n``; above ``n`` the estimator is
            undefined (every draw of ``k`` would hold a pass whenever one exists).

    Raises:
        ValueError: the counts are impossible.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:  # every choice of k samples holds a pass
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k over a benchmark: the mean of ``pass_at_k`` over ``(n, c)`` per problem."""
    if not counts:
        raise ValueError("pass@k needs at least one problem")
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)
