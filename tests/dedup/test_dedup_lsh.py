"""dedup.lsh: optimal (bands, rows) against an independent integration, and band keys."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy.integrate import quad

from dedup.lsh import band_keys, implied_threshold, optimal_params


def weighted_error(threshold: float, bands: int, rows: int, fp_weight: float = 0.5,
                   fn_weight: float = 0.5) -> float:
    """Weighted false positive + false negative mass, by adaptive quadrature (scipy)."""
    def curve(s: float) -> float:
        return 1.0 - (1.0 - s ** rows) ** bands

    fp = quad(curve, 0.0, threshold)[0]
    fn = quad(lambda s: 1.0 - curve(s), threshold, 1.0)[0]
    return fp_weight * fp + fn_weight * fn


def test_known_value_for_the_defaults():
    # Threshold 0.7 and 256 permutations, the literature defaults (datasketch agrees).
    assert optimal_params(0.7, 256) == (25, 10)


@pytest.mark.parametrize("threshold,num_perm", [(0.5, 128), (0.7, 256), (0.8, 256), (0.9, 64)])
def test_params_fit_the_signature_and_centre_the_s_curve_near_the_threshold(threshold, num_perm):
    bands, rows = optimal_params(threshold, num_perm)
    assert bands * rows <= num_perm
    midpoint = (1.0 / bands) ** (1.0 / rows)
    assert abs(midpoint - threshold) < 0.06


@pytest.mark.parametrize("threshold,num_perm", [(0.7, 256), (0.5, 128), (0.85, 100)])
def test_params_beat_their_neighbours_and_common_alternatives(threshold, num_perm):
    best = optimal_params(threshold, num_perm)
    b, r = best
    alternatives = {(b + db, r + dr) for db in (-2, -1, 0, 1, 2) for dr in (-1, 0, 1)}
    alternatives |= {(num_perm // rows, rows) for rows in (4, 5, 8, 16, 32)}
    alternatives = {(x, y) for x, y in alternatives if x >= 1 and y >= 1 and x * y <= num_perm}
    alternatives.discard(best)
    error = weighted_error(threshold, *best)
    assert all(error < weighted_error(threshold, *alt) for alt in alternatives)


def test_params_are_optimal_over_every_choice_for_a_small_signature():
    candidates = [(b, r) for b in range(1, 33) for r in range(1, 32 // b + 1)]
    errors = {c: weighted_error(0.6, *c) for c in candidates}
    assert optimal_params(0.6, 32) == min(errors, key=errors.get)


def test_weighting_false_negatives_lowers_the_s_curve_midpoint():
    def midpoint(bands_rows):
        bands, rows = bands_rows
        return (1.0 / bands) ** (1.0 / rows)

    balanced = optimal_params(0.7, 256)
    recall_leaning = optimal_params(0.7, 256, false_positive_weight=0.1, false_negative_weight=0.9)
    assert midpoint(recall_leaning) < midpoint(balanced)
    assert weighted_error(0.7, *recall_leaning, 0.1, 0.9) < weighted_error(0.7, *balanced, 0.1, 0.9)


@pytest.mark.parametrize("kwargs", [
    {"threshold": 0.0, "num_perm": 256}, {"threshold": 1.0, "num_perm": 256},
    {"threshold": 0.7, "num_perm": 0},
    {"threshold": 0.7, "num_perm": 256, "false_positive_weight": -0.1},
    {"threshold": 0.7, "num_perm": 256, "false_positive_weight": 0, "false_negative_weight": 0},
])
def test_bad_arguments_are_rejected(kwargs):
    with pytest.raises(ValueError):
        optimal_params(**kwargs)


def sig_of(seed: int, n: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, size=n, dtype=np.uint32)


def test_band_keys_are_one_fixed_size_key_per_band_in_order():
    keys = band_keys(sig_of(0), 25, 10)
    assert [i for i, _ in keys] == list(range(25))
    assert all(isinstance(k, bytes) and len(k) == 8 for _, k in keys)


def test_identical_signatures_give_identical_keys():
    assert band_keys(sig_of(0), 25, 10) == band_keys(sig_of(0).copy(), 25, 10)


def test_changing_one_value_changes_only_its_band():
    sig = sig_of(0)
    changed = sig.copy()
    changed[37] ^= 1  # row 7 of band 3
    differ = [i for (i, a), (_, b) in zip(band_keys(sig, 25, 10), band_keys(changed, 25, 10))
              if a != b]
    assert differ == [3]


def test_values_past_bands_times_rows_are_ignored():
    sig = sig_of(0)
    changed = sig.copy()
    changed[255] ^= 1
    assert band_keys(sig, 25, 10) == band_keys(changed, 25, 10)


def test_equal_bands_at_different_positions_have_different_band_indices():
    sig = np.zeros(20, dtype=np.uint32)
    (i0, k0), (i1, k1) = band_keys(sig, 2, 10)
    assert k0 == k1 and i0 != i1


def test_keys_depend_on_values_not_dtype_or_byte_order():
    sig = sig_of(0)
    assert band_keys(sig, 25, 10) == band_keys(sig.astype(np.uint64), 25, 10)
    assert band_keys(sig, 25, 10) == band_keys(sig.astype(">u4"), 25, 10)


def test_keys_are_the_same_in_another_process():
    script = textwrap.dedent("""
        import numpy as np
        from dedup.lsh import band_keys
        sig = np.random.default_rng(0).integers(0, 2**32, size=256, dtype=np.uint32)
        print([k.hex() for _, k in band_keys(sig, 25, 10)])
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", script], cwd=root, check=True, text=True,
                         capture_output=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == str([k.hex() for _, k in band_keys(sig_of(0), 25, 10)])


def test_band_keys_reject_bad_shapes():
    with pytest.raises(ValueError, match="shorter"):
        band_keys(sig_of(0, n=100), 25, 10)
    with pytest.raises(ValueError, match="at least 1"):
        band_keys(sig_of(0), 0, 10)


def test_implied_threshold_is_the_s_curve_midpoint():
    assert implied_threshold(36, 7) == pytest.approx((1 / 36) ** (1 / 7))
    assert implied_threshold(1, 1) == 1.0
    with pytest.raises(ValueError):
        implied_threshold(0, 3)
