"""Near-dedup quality on real code against exact Jaccard ground truth, next to datasketch.

    .venv/bin/python bench/bench_dedup_quality.py [--max-files N] [--planted N] [--seed S]
                                                   [--root DIR ...]

Corpus: the ``.py`` files of 1-500 KB under the running interpreter's ``purelib`` (the
venv's site-packages) and ``stdlib`` (which, for a pyenv interpreter, holds that
interpreter's own site-packages too). Nobody here wrote them, and they hold natural near
duplicates: pip's and setuptools' vendored packages next to the originals installed
separately, two installed versions of pip, setuptools, hypothesis, pytest, packaging, ...,
and packages that ship each other's modules. Byte-identical files are dropped first, as the
build's exact dedup does. Then ``--planted`` copies of random files are added with random
line deletions, insertions and replacements, each edited until its exact Jaccard with its
original lands near a target drawn uniformly from [0.5, 1.0] (the achieved value is
measured after the edit): as many traps just below the threshold as duplicates just above.

Ground truth: ``dedup.allpairs.similar_pairs`` (exact) on the same shingle hashes at
t = 0.7 and 0.85; its connected components are the true clusters.

Scoring per cluster: a system removes a set R of documents. A true cluster C of n members
may lose n - 1: it contributes ``min(|R & C|, n - 1)`` correct removals; every other
removal (more than n - 1 from a cluster, or any document in no true cluster) is a false
positive. precision = correct / |R|, recall = correct / sum(n - 1). Pair scores compare the
pairs inside the system's clusters with the true pairs (J >= t, not closed transitively).

Systems, all on the same signatures (256 permutations, 5-word shingles, seed 1):

- ``ours``: ``dedup.near.near_duplicates`` with ``DedupSpec(threshold=t).lsh_params()``,
  verified by exact Jaccard (the default), by the signature estimate, and with chaining
  bounded;
- ``ours ... unverified``: the same buckets and candidate pairs, clustered without
  verification, to show what verification is worth at equal bands;
- ``datasketch``: ``MinHashLSH(threshold=t, num_perm=256)`` with its own bands and rows,
  every document inserted and queried, clusters = connected components of the returned
  pairs, keeper = smallest id: an unverified LSH dedup as its users write it.

Exact verification unions only pairs the ground truth also holds, so each of its clusters
lies inside a true one and its precision is 1 by construction; its recall measures LSH
alone. Bounded chaining is scored against the same transitive clusters, so the chained
members it releases count as missed.

After the table, for ``ours`` (exact) and datasketch at each threshold: the true pairs that
link different system clusters (by Jaccard, signature estimate, and whether they share a
band of that system's LSH), the wrong removals by their Jaccard with the keeper they were
removed for, and planted copies found with their original, by Jaccard bin.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import os
import pathlib
import random
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence

import numpy as np
from datasketch import MinHash, MinHashLSH

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dedup.allpairs import similar_pairs  # noqa: E402
from dedup.components import connected_components  # noqa: E402
from dedup.lsh import band_keys  # noqa: E402
from dedup.minhash import exact_jaccard, jaccard, signature  # noqa: E402
from dedup.near import Document, near_duplicates  # noqa: E402
from dedup.shingles import shingle_hashes  # noqa: E402
from pipelines.config import DedupSpec  # noqa: E402

NGRAM = 5
NUM_PERM = 256
SEED = 1
THRESHOLDS = (0.7, 0.85)
J_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 1.0)


@dataclasses.dataclass
class Corpus:
    """Documents in id order; ``planted[i] = (original index, exact Jaccard)``."""

    names: list[str]
    texts: list[str]
    planted: dict[int, tuple[int, float]]
    identical_dropped: int


@dataclasses.dataclass
class Run:
    """One system's outcome at one threshold."""

    system: str
    threshold: float
    labels: dict[str, str]  # clustered document -> its cluster's label
    removed: set[str]
    candidates: int
    bands: int
    rows: int
    rejected: int = 0
    chained: int = 0
    seconds: float = 0.0


def doc_id(i: int) -> str:
    """Zero-padded, so string order (the keeper rule's tie-break) is index order."""
    return f"{i:06d}"


def python_files(roots: Sequence[str], min_bytes: int, max_bytes: int,
                 max_files: int) -> list[pathlib.Path]:
    """``.py`` files of ``min_bytes..max_bytes`` under ``roots``, each real path once.

    Above ``max_files``, whole groups of files with the same base name are taken, in the
    order of a hash of that name, so that families of copies (which mostly keep their file
    name) are kept or dropped together rather than thinned.
    """
    found: set[str] = set()
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                if name.endswith(".py") and os.path.isfile(path) and not os.path.islink(path):
                    if min_bytes <= os.path.getsize(path) <= max_bytes:
                        found.add(os.path.realpath(path))
    paths = sorted(found)
    if len(paths) <= max_files:
        return [pathlib.Path(p) for p in paths]
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for p in paths:
        groups[os.path.basename(p)].append(p)
    chosen: list[str] = []
    for name in sorted(groups, key=lambda n: hashlib.blake2b(n.encode()).digest()):
        if len(chosen) + len(groups[name]) <= max_files:
            chosen += groups[name]
    return [pathlib.Path(p) for p in sorted(chosen)]


def edited(lines: list[str], script: Sequence[tuple[str, float, str]]) -> list[str]:
    """``lines`` after each ``(op, where in [0, 1), donor line)`` of ``script`` in turn."""
    out = list(lines)
    for op, where, donor in script:
        pos = int(where * len(out))
        if op == "insert" or not out:
            out.insert(pos, donor)
        elif op == "delete":
            del out[pos]
        else:
            out[pos] = donor
    return out


def plant(text: str, target: float, donors: Sequence[str],
          rng: random.Random) -> tuple[str, float]:
    """A copy of ``text`` edited line by line until its exact Jaccard is near ``target``.

    One random edit script is drawn; a bisection on how many of its edits to apply finds
    the prefix whose Jaccard is closest to ``target`` (Jaccard falls roughly monotonically
    with the edits applied).

    Returns:
        The copy and its exact Jaccard with ``text``.
    """
    lines = text.splitlines()
    script = [(rng.choice(("insert", "delete", "replace")), rng.random(), rng.choice(donors))
              for _ in range(len(lines))]
    base = shingle_hashes(text, NGRAM)

    def similarity(k: int) -> tuple[float, str]:
        copy = "\n".join(edited(lines, script[:k]))
        return exact_jaccard(base, shingle_hashes(copy, NGRAM)), copy

    lo, hi = 0, len(script)
    best = (2.0, 0.0, text)
    while lo <= hi:
        mid = (lo + hi) // 2
        j, copy = similarity(mid)
        best = min(best, (abs(j - target), j, copy))
        if j > target:
            lo = mid + 1
        else:
            hi = mid - 1
    return best[2], best[1]


def build_corpus(roots: Sequence[str], max_files: int, planted: int, seed: int) -> Corpus:
    """Read, drop byte-identical files, and append the planted copies."""
    names, texts, seen = [], [], set()
    dropped = 0
    for path in python_files(roots, 1_000, 500_000, max_files):
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).digest()
        if digest in seen:
            dropped += 1
            continue
        seen.add(digest)
        names.append(str(path))
        texts.append(raw.decode("utf-8", errors="replace"))
    rng = random.Random(seed)
    donors = [line for t in rng.sample(texts, min(200, len(texts)))
              for line in t.splitlines() if line.strip()]
    originals = [i for i, t in enumerate(texts) if 30 <= t.count("\n") <= 3_000]
    copies: dict[int, tuple[int, float]] = {}
    for original in sorted(rng.sample(originals, min(planted, len(originals)))):
        copy, j = plant(texts[original], rng.uniform(0.5, 1.0), donors, rng)
        copies[len(texts)] = (original, j)
        names.append(f"planted({j:.3f}):{names[original]}")
        texts.append(copy)
    return Corpus(names, texts, copies, dropped)


def clusters_of(labels: dict[str, str]) -> list[set[str]]:
    """The clusters of a node -> label map, as sets of nodes."""
    groups: dict[str, set[str]] = collections.defaultdict(set)
    for node, label in labels.items():
        groups[label].add(node)
    return list(groups.values())


def removals(labels: dict[str, str]) -> set[str]:
    """Every clustered document but the smallest id of its cluster (the keeper)."""
    return {node for node, label in labels.items() if node != label}


def per_cluster(removed: set[str], truth: list[set[str]]) -> tuple[float, float, int]:
    """``(precision, recall, correct removals)`` scored per true cluster."""
    correct = sum(min(len(removed & c), len(c) - 1) for c in truth)
    possible = sum(len(c) - 1 for c in truth)
    return (correct / len(removed) if removed else 1.0,
            correct / possible if possible else 1.0, correct)


def pair_scores(labels: dict[str, str], truth_pairs: set[tuple[str, str]]) -> tuple[float, float]:
    """Precision and recall of the pairs inside system clusters against true pairs."""
    inside = {(a, b) for c in clusters_of(labels) for a in c for b in c if a < b}
    hit = len(inside & truth_pairs)
    return (hit / len(inside) if inside else 1.0,
            hit / len(truth_pairs) if truth_pairs else 1.0)


def ours(docs: Sequence[Document], threshold: float, verify: str,
         bound_chaining: bool) -> Run:
    bands, rows = DedupSpec(threshold=threshold).lsh_params()
    start = time.perf_counter()
    result = near_duplicates(docs, threshold=threshold, bands=bands, rows=rows,
                             verify=verify, bound_chaining=bound_chaining)
    seconds = time.perf_counter() - start
    labels = {d: m.cluster for d, m in result.members.items() if m.size > 1}
    removed = {d for d, m in result.members.items() if not m.kept}
    name = f"ours {bands}x{rows} {verify}" + (" bounded" if bound_chaining else "")
    return Run(name, threshold, labels, removed, result.candidates, bands, rows, result.rejected,
               sum(m.chained for m in result.members.values()), seconds)


def ours_unverified(docs: Sequence[Document], threshold: float) -> Run:
    """``near_duplicates``' own candidate pairs, all unioned: a pair sharing a band agrees on
    at least ``rows`` of ``NUM_PERM`` slots, so signature verification at that threshold
    confirms every candidate."""
    bands, rows = DedupSpec(threshold=threshold).lsh_params()
    start = time.perf_counter()
    result = near_duplicates(docs, threshold=rows / NUM_PERM, bands=bands, rows=rows,
                             verify="signature")
    labels = {d: m.cluster for d, m in result.members.items()}
    removed = {d for d, m in result.members.items() if not m.kept}
    return Run(f"ours {bands}x{rows} unverified", threshold, labels, removed,
               result.candidates, bands, rows, seconds=time.perf_counter() - start)


def datasketch_lsh(docs: Sequence[Document], threshold: float) -> Run:
    """``MinHashLSH`` at its own bands and rows over our signatures; unverified."""
    start = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    scheme = "affine32" if docs[0].signature.dtype.itemsize <= 4 else "affine64"
    permutations = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=scheme).permutations
    sketches = {d.id: MinHash(hashvalues=d.signature, permutations=permutations,
                              scheme=scheme) for d in docs}
    for key, sketch in sketches.items():
        lsh.insert(key, sketch, check_duplication=False)
    pairs = {(min(key, other), max(key, other)) for key, sketch in sketches.items()
             for other in lsh.query(sketch) if other != key}
    labels = connected_components(pairs)
    return Run(f"datasketch {lsh.b}x{lsh.r} unverified", threshold, labels,
               removals(labels), len(pairs), lsh.b, lsh.r, seconds=time.perf_counter() - start)


def histogram(values: Sequence[float]) -> str:
    """Counts of ``values`` per Jaccard bin, non-empty bins only, on one line."""
    counts = np.histogram(values, bins=J_BINS)[0]
    return "  ".join(f"[{lo:.2f},{hi:.2f}):{c}" for lo, hi, c in zip(J_BINS, J_BINS[1:], counts)
                     if c)


def explain(run: Run, docs: dict[str, Document], truth_pairs: dict[tuple[str, str], float],
            corpus: Corpus, truth_labels: dict[str, str], show: int) -> None:
    """Where ``run`` loses recall and precision, and how planted copies fared."""
    bands, rows = run.bands, run.rows
    print(f"\n-- {run.system} at t = {run.threshold}")
    missing = [(a, b, j) for (a, b), j in truth_pairs.items()
               if run.labels.get(a, a) != run.labels.get(b, b)]

    def banded(a: str, b: str) -> bool:
        return bool(set(band_keys(docs[a].signature, bands, rows))
                    & set(band_keys(docs[b].signature, bands, rows)))

    shared = sum(banded(a, b) for a, b, _ in missing)
    print(f"true pairs across system clusters: {len(missing)} "
          f"({shared} shared a {bands}x{rows} band); by J: "
          f"{histogram([j for _, _, j in missing])}")
    for a, b, j in sorted(missing, key=lambda m: -m[2])[:show]:
        print(f"   J={j:.3f} est={jaccard(docs[a].signature, docs[b].signature):.3f} "
              f"band={banded(a, b)}  {corpus.names[int(a)]}  ~  {corpus.names[int(b)]}")
    wrong = []
    for c in clusters_of(run.labels):
        keeper = min(c)  # every system ranks by id alone here
        for member in c - {keeper}:
            if truth_labels.get(member) is None or truth_labels[member] != truth_labels.get(keeper):
                wrong.append((member, keeper,
                              exact_jaccard(docs[member].hashes, docs[keeper].hashes)))
    print(f"removed outside their keeper's true cluster: {len(wrong)}; J with keeper: "
          f"{histogram([j for _, _, j in wrong])}")
    for member, keeper, j in sorted(wrong, key=lambda w: -w[2])[:show]:
        print(f"   J={j:.3f}  {corpus.names[int(member)]}  for  {corpus.names[int(keeper)]}")
    found: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for copy, (original, j) in corpus.planted.items():
        a, b = doc_id(original), doc_id(copy)
        slot = found[int(np.digitize(j, J_BINS[1:-1]))]
        slot[0] += 1
        slot[1] += run.labels.get(a, a) == run.labels.get(b, b)
        slot[2] += truth_labels.get(a, a) == truth_labels.get(b, b)
    print("planted copies clustered with their original (system / truth / copies): " + "  ".join(
        f"[{J_BINS[k]:.2f},{J_BINS[k + 1]:.2f}):{s}/{t}/{n}"
        for k, (n, s, t) in sorted(found.items())))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    paths = sysconfig.get_paths()
    parser.add_argument("--root", action="append",
                        help="folder to take .py files from (repeatable); default: this "
                             "interpreter's purelib and stdlib")
    parser.add_argument("--max-files", type=int, default=20_000,
                        help="cap on files read, taken by whole base-name groups")
    parser.add_argument("--planted", type=int, default=400, help="edited copies to add")
    parser.add_argument("--seed", type=int, default=0, help="seed of the planted edits")
    parser.add_argument("--show", type=int, default=5, help="examples listed per finding")
    args = parser.parse_args(argv)
    roots = args.root or [paths["purelib"], paths["stdlib"]]

    start = time.perf_counter()
    corpus = build_corpus(roots, args.max_files, args.planted, args.seed)
    t_read = time.perf_counter() - start
    start = time.perf_counter()
    hashes = [shingle_hashes(t, NGRAM) for t in corpus.texts]
    t_shingle = time.perf_counter() - start
    start = time.perf_counter()
    docs = [Document(doc_id(i), doc_id(i), h, signature(h, NUM_PERM, SEED))
            for i, h in enumerate(hashes) if h.size]
    t_sign = time.perf_counter() - start
    by_id = {d.id: d for d in docs}
    megabytes = sum(len(t.encode("utf-8", errors="replace")) for t in corpus.texts) / 1e6
    print(f"roots: {', '.join(roots)}")
    print(f"files: {len(corpus.texts) - len(corpus.planted)} distinct "
          f"({corpus.identical_dropped} byte-identical dropped) + {len(corpus.planted)} "
          f"planted = {len(corpus.texts)} documents, {megabytes:.1f} MB; "
          f"{len(corpus.texts) - len(docs)} shorter than {NGRAM} words")
    print(f"planted Jaccard: {histogram([j for _, j in corpus.planted.values()])}")
    print(f"seconds: read+plant {t_read:.1f}, shingle {t_shingle:.1f}, sign {t_sign:.1f}")

    header = (f"{'system':34} {'t':>5} {'prec':>6} {'recall':>6} {'pair P':>6} {'pair R':>6} "
              f"{'removed':>7} {'cands':>7} {'rejected':>8} {'chained':>7} {'s':>6}")
    rows_out, explained = [], []
    for t in THRESHOLDS:
        start = time.perf_counter()
        truth_list = similar_pairs(hashes, t)
        t_truth = time.perf_counter() - start
        truth_pairs = {(doc_id(i), doc_id(j)): s for i, j, s in truth_list}
        truth_labels = connected_components(truth_pairs)
        truth = clusters_of(truth_labels)
        print(f"\nground truth t = {t}: {len(truth_pairs)} pairs, {len(truth)} clusters "
              f"({sum(len(c) for c in truth)} documents, {sum(len(c) - 1 for c in truth)} "
              f"removable; largest {max(map(len, truth), default=0)}), all-pairs "
              f"{t_truth:.1f} s")
        systems: list[Callable[[], Run]] = [
            lambda: ours(docs, t, "exact", False),
            lambda: ours(docs, t, "signature", False),
            lambda: ours(docs, t, "exact", True),
            lambda: ours_unverified(docs, t),
            lambda: datasketch_lsh(docs, t),
        ]
        for system in systems:
            run = system()
            precision, recall, _ = per_cluster(run.removed, truth)
            pair_p, pair_r = pair_scores(run.labels, set(truth_pairs))
            rows_out.append(f"{run.system:34} {t:5.2f} {precision:6.3f} {recall:6.3f} "
                            f"{pair_p:6.3f} {pair_r:6.3f} {len(run.removed):7d} "
                            f"{run.candidates:7d} {run.rejected:8d} {run.chained:7d} "
                            f"{run.seconds:6.1f}")
            if run.system.startswith("datasketch") or run.system.endswith("exact"):
                explained.append((run, truth_pairs, truth_labels))
    print()
    print(header)
    print("\n".join(rows_out))
    for run, truth_pairs, truth_labels in explained:
        explain(run, by_id, truth_pairs, corpus, truth_labels, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
