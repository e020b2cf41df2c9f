"""dedup.minhash: signatures estimate Jaccard like k-permutation MinHash (datasketch) does."""

from __future__ import annotations

import math
import pathlib
import subprocess
import sys
import sysconfig

import numpy as np
import pytest
from datasketch import MinHash

from dedup.minhash import EMPTY, exact_jaccard, jaccard, signature, signatures
from dedup.shingles import shingle_hashes, shingle_hashes_batch

K = 256
STDLIB = pathlib.Path(sysconfig.get_paths()["stdlib"])
ROOT = pathlib.Path(__file__).resolve().parents[2]


def read(name: str) -> str:
    return (STDLIB / name).read_text(encoding="utf-8")


def drop_every(text: str, step: int) -> str:
    """The text without every ``step``-th line: a realistic edited copy."""
    return "\n".join(line for i, line in enumerate(text.splitlines()) if i % step)


def datasketch_estimate(a: np.ndarray, b: np.ndarray) -> float:
    """datasketch's 256-permutation MinHash estimate over the same shingles, as bytes."""
    sketches = []
    for hashes in (a, b):
        sketch = MinHash(num_perm=K, seed=1)
        sketch.update_batch([h.tobytes() for h in hashes])
        sketches.append(sketch)
    return sketches[0].jaccard(sketches[1])


def standard_error(j: float) -> float:
    return math.sqrt(j * (1 - j) / K)


# Real file pairs with Jaccard spread over [0, 1]: edited copies, overlapping parts,
# related modules, unrelated modules.
PAIRS = {
    "identical": lambda: (read("difflib.py"), read("difflib.py")),
    "every 12th line deleted": lambda: (read("difflib.py"), drop_every(read("difflib.py"), 12)),
    "every 4th line deleted": lambda: (read("tarfile.py"), drop_every(read("tarfile.py"), 4)),
    "every 2nd line deleted": lambda: (read("shutil.py"), drop_every(read("shutil.py"), 2)),
    "overlapping halves": lambda: (read("argparse.py")[:60_000], read("argparse.py")[30_000:]),
    "overlapping thirds": lambda: (read("argparse.py")[:50_000], read("argparse.py")[35_000:]),
    "related modules": lambda: (read("poplib.py"), read("imaplib.py")),
    "unrelated modules": lambda: (read("difflib.py"), read("tarfile.py")),
}


def test_pairs_span_the_similarity_range():
    exact = sorted(exact_jaccard(shingle_hashes(a), shingle_hashes(b))
                   for a, b in (make() for make in PAIRS.values()))
    assert exact[0] < 0.05 and exact[-1] == 1.0
    assert any(0.2 < j < 0.5 for j in exact) and any(0.5 < j < 0.9 for j in exact)


@pytest.mark.parametrize("pair", PAIRS)
def test_estimate_agrees_with_exact_jaccard_and_datasketch_on_real_files(pair):
    text_a, text_b = PAIRS[pair]()
    a, b = shingle_hashes(text_a), shingle_hashes(text_b)
    exact = exact_jaccard(a, b)
    ours = jaccard(signature(a), signature(b))
    theirs = datasketch_estimate(a, b)
    # Within 4 standard errors (plus one slot, for J at 0 or 1), each alone and together.
    assert abs(ours - exact) <= 4 * standard_error(exact) + 1 / K
    assert abs(theirs - exact) <= 4 * standard_error(exact) + 1 / K
    assert abs(ours - theirs) <= 4 * math.sqrt(2) * standard_error(exact) + 2 / K


@pytest.mark.parametrize("size", [60, 5_000])
def test_estimate_is_unbiased_with_k_permutation_variance_over_seeds(size):
    # Sets smaller than K take the many-events path, larger ones the first-event path;
    # both must behave like K independent permutations: mean J, variance J(1-J)/K.
    hashes = shingle_hashes(read("tarfile.py"), n=5)[:size * 3 // 2]
    a, b = hashes[:size], hashes[size // 2:]  # J = (size/2) / (size * 3/2) = 1/3
    exact = exact_jaccard(a, b)
    estimates = np.array([jaccard(signature(a, seed=s), signature(b, seed=s))
                          for s in range(200)])
    assert abs(estimates.mean() - exact) <= 4 * standard_error(exact) / math.sqrt(200)
    assert 0.7 <= estimates.var(ddof=1) / standard_error(exact) ** 2 <= 1.4


def test_signature_is_num_perm_uint32_values():
    sig = signature(shingle_hashes("one two three four five six"), num_perm=100)
    assert sig.dtype == np.uint32 and sig.shape == (100,)


def test_empty_set_gives_the_empty_signature():
    assert np.all(signature(np.empty(0, np.uint64), num_perm=16) == EMPTY)


def test_signature_does_not_depend_on_order_or_repeats():
    hashes = shingle_hashes(read("difflib.py"))
    shuffled = np.random.default_rng(0).permutation(hashes)
    assert np.array_equal(signature(hashes), signature(np.concatenate([shuffled, hashes[:50]])))


def test_seed_chooses_the_signature():
    hashes = shingle_hashes(read("difflib.py"))
    assert np.array_equal(signature(hashes, seed=3), signature(hashes, seed=3))
    assert np.count_nonzero(signature(hashes, seed=1) == signature(hashes, seed=2)) < K // 10


@pytest.mark.parametrize("chunk", [1, 97, 4096])
def test_chunk_size_never_changes_the_signature(chunk):
    hashes = shingle_hashes(read("tarfile.py"))
    assert np.array_equal(signature(hashes, chunk=chunk), signature(hashes))


def test_text_to_signature_is_identical_in_a_fresh_process():
    code = ("import sys; from dedup.shingles import shingle_hashes; "
            "from dedup.minhash import signature; "
            "sys.stdout.write(signature(shingle_hashes(sys.stdin.read())).tobytes().hex())")
    text = read("difflib.py")
    out = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True,
                         text=True, check=True, cwd=ROOT, env={"PYTHONHASHSEED": "123"})
    assert out.stdout == signature(shingle_hashes(text)).tobytes().hex()


def test_signature_values_are_pinned():
    # Signatures must not drift between versions: these are the values since issue 6.
    sig = signature(shingle_hashes(read("difflib.py")), num_perm=16, seed=7)
    assert sig.tobytes().hex() == (
        "3c7a7788ea5e4df51bcd8dd843e245c6422190cf468aa19747120cd3bd25fa92"
        "0e55a73ee7ccc7315061acdb8567fb74f73859cddde02d7d1c3dbccd51d78265")


def mixed_sets() -> list[np.ndarray]:
    """Sets of every size the two steps treat differently, empty ones among them."""
    rng = np.random.default_rng(0)
    sets = [rng.integers(0, 2**63, size, dtype=np.int64).view(np.uint64)
            for size in (1, 7, 60, 300, 1_500, 20_000)]
    sets += shingle_hashes_batch([read("difflib.py"), "too short", read("poplib.py")])
    return [sets[i] for i in (6, 0, 1, 7, 2, 3, 8, 4, 5)] + [np.empty(0, np.uint64)]


@pytest.mark.parametrize("chunk", [97, 1 << 14])
def test_batch_equals_each_set_alone(chunk):
    sets = mixed_sets()
    batch = signatures(sets, chunk=chunk)
    assert batch.dtype == np.uint32 and batch.shape == (len(sets), K)
    for hashes, row in zip(sets, batch):
        assert np.array_equal(row, signature(hashes))


def test_a_sets_signature_does_not_depend_on_its_batch():
    sets = mixed_sets()
    order = np.random.default_rng(1).permutation(len(sets))
    shuffled = signatures([sets[i] for i in order], num_perm=64, seed=5)
    assert np.array_equal(shuffled, signatures(sets, num_perm=64, seed=5)[order])


def test_no_sets_give_no_signatures():
    assert signatures([], num_perm=8).shape == (0, 8)


def test_exact_jaccard_of_sorted_hash_sets():
    a = np.array([1, 2, 3, 4], np.uint64)
    b = np.array([3, 4, 5], np.uint64)
    assert exact_jaccard(a, b) == 2 / 5
    assert exact_jaccard(a, a) == 1.0
    assert exact_jaccard(a, np.array([9], np.uint64)) == 0.0


def test_exact_jaccard_of_empty_sets_is_zero():
    empty = np.empty(0, np.uint64)
    assert exact_jaccard(empty, empty) == 0.0
    assert exact_jaccard(empty, np.array([1], np.uint64)) == 0.0


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="length"):
        jaccard(np.zeros(8, np.uint32), np.zeros(16, np.uint32))
    with pytest.raises(ValueError, match="num_perm"):
        signature(np.array([1], np.uint64), num_perm=0)
    with pytest.raises(ValueError, match="chunk"):
        signature(np.array([1], np.uint64), chunk=0)
    with pytest.raises(ValueError, match="num_perm"):
        signatures([np.array([1], np.uint64)], num_perm=0)
