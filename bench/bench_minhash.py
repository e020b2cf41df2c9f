"""MinHash signature throughput, text in and signature out, on one core against the libraries.

    .venv/bin/python bench/bench_minhash.py [--mb 32] [--num-perm 256] [--batch-docs 256]
                                            [--batch-mb 4]

Every method turns each document of the same corpus (real code: the standard library's and
the installed site-packages' ``.py`` files, in sorted path order, up to ``--mb`` MB of UTF-8)
into a ``--num-perm``-slot MinHash signature over word 5-gram shingles, including its own
shingling. The process is pinned to one core with BLAS/OpenMP threads off, so the figures
are per core. Time is CPU time of this process (``time.process_time``), which shared
machines disturb less than wall time; both are printed.

- ours (batched): ``dedup.minhash.signatures(dedup.shingles.shingle_hashes_batch(batch))``
  over consecutive batches of at most ``--batch-docs`` documents and ``--batch-mb`` MB, as the
  pipeline calls it (a DoFn over ``beam.BatchElements``); its time is also split by step.
- ours (per document): ``signature(shingle_hashes(text))``, a batch of one per call.
- datasketch: shingles built in Python (lowercase, ``\\w+`` words, joined by spaces, UTF-8),
  fed to ``MinHash.update_batch`` with the permutations drawn once (faster than datasketch's
  default of drawing them per sketch).
- rensa: the same Python shingles fed to ``RMinHash.update`` and ``CMinHash.update``
  (``pip install rensa``; skipped when absent).
- datatrove: ``MinhashDedupSignature.get_shingles`` + ``get_signature`` with 16 buckets of
  16 hashes (``pip install datatrove regex xxhash``; skipped when absent). Its default word
  tokenizer needs spaCy or NLTK models, which this machine cannot download, so it gets a
  ``\\w+`` word tokenizer; its text normalisation, hashing and signature code are its own.

The ratio column divides each method's MB/s by the fastest library's. Every method gets the
same batches; the libraries loop over each batch's documents.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # NOTE: before numpy is imported, or its thread pools ignore it

import argparse  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import sysconfig  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dedup.minhash import signature, signatures  # noqa: E402
from dedup.shingles import shingle_hashes, shingle_hashes_batch  # noqa: E402

NGRAM = 5
SEED = 1
_WORD = re.compile(r"\w+")


def corpus(megabytes: float) -> list[str]:
    """The first ``megabytes`` MB of ``.py`` files of the stdlib, then of site-packages."""
    paths = sysconfig.get_paths()
    roots = [pathlib.Path(paths["stdlib"]), pathlib.Path(paths["purelib"])]
    texts, size = [], 0
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if root == roots[0] and roots[1] in path.parents:
                continue  # a venv's site-packages can sit under the stdlib directory
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            texts.append(text)
            size += len(text.encode("utf-8"))
            if size >= megabytes * 1e6:
                return texts
    return texts


def python_shingles(text: str) -> set[str]:
    """Word 5-grams as a user of a MinHash library would build them in Python."""
    words = _WORD.findall(text.lower())
    return {" ".join(words[i:i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


def batches(texts: list[str], max_docs: int, max_bytes: float) -> Iterator[list[str]]:
    """Consecutive runs of at most ``max_docs`` texts and, beyond their first, ``max_bytes``."""
    batch, size = [], 0
    for text in texts:
        length = len(text.encode("utf-8"))
        if batch and (len(batch) == max_docs or size + length > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(text)
        size += length
    if batch:
        yield batch


def each(sign: Callable[[str], object]) -> Callable[[Sequence[str]], list]:
    """A per-document signature function applied to every document of a batch."""
    return lambda batch: [sign(text) for text in batch]


def methods(num_perm: int) -> dict[str, Callable[[Sequence[str]], object]]:
    """Name -> a function from a batch of texts to signatures, for every installed library."""
    from datasketch import MinHash

    permutations = MinHash(num_perm=num_perm, seed=SEED, scheme="affine32").permutations

    def datasketch(text: str):
        sketch = MinHash(num_perm=num_perm, seed=SEED, scheme="affine32", permutations=permutations)
        sketch.update_batch([s.encode("utf-8") for s in python_shingles(text)])
        return sketch.hashvalues

    out = {"ours (batched)": lambda batch: signatures(shingle_hashes_batch(batch, NGRAM),
                                                      num_perm, SEED),
           "ours (per document)": each(
               lambda text: signature(shingle_hashes(text, NGRAM), num_perm, SEED)),
           "datasketch": each(datasketch)}
    try:
        import rensa
    except ImportError:
        print("rensa not installed: skipped")
    else:
        def rensa_sketch(cls):
            def sign(text: str):
                sketch = cls(num_perm, SEED)
                sketch.update(list(python_shingles(text)))
                return sketch.digest()
            return sign

        out["rensa RMinHash"] = each(rensa_sketch(rensa.RMinHash))
        out["rensa CMinHash"] = each(rensa_sketch(rensa.CMinHash))
    try:
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
        from datatrove.utils.word_tokenizers import WordTokenizer
    except ImportError as error:
        print(f"datatrove not usable ({error}): skipped")
    else:
        class Words(WordTokenizer):
            def word_tokenize(self, text: str) -> list[str]:
                return _WORD.findall(text)

            def sent_tokenize(self, text: str) -> list[str]:
                return [text]

            def span_tokenize(self, text: str) -> list[tuple[int, int]]:
                return [(m.start(), m.end()) for m in _WORD.finditer(text)]

        rows = 16
        step = MinhashDedupSignature(
            output_folder=tempfile.mkdtemp(), language=Words(),
            config=MinhashConfig(n_grams=NGRAM, num_buckets=num_perm // rows,
                                 hashes_per_bucket=rows, seed=SEED))

        def datatrove(text: str):
            shingles = step.get_shingles(text)
            return step.get_signature(shingles) if shingles.size else None

        out["datatrove"] = each(datatrove)
    return out


def steps(work: list[list[str]], num_perm: int) -> dict[str, float]:
    """CPU seconds of the batched path's two steps: shingling, then signatures."""
    shingling = signing = 0.0
    for batch in work:
        start = time.process_time()
        hashes = shingle_hashes_batch(batch, NGRAM)
        middle = time.process_time()
        signatures(hashes, num_perm, SEED)
        shingling += middle - start
        signing += time.process_time() - middle
    return {"shingle_hashes_batch": shingling, "signatures": signing}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=32.0, help="corpus size in MB of UTF-8")
    parser.add_argument("--num-perm", type=int, default=256)
    parser.add_argument("--batch-docs", type=int, default=256, help="documents per batch, at most")
    parser.add_argument("--batch-mb", type=float, default=4.0, help="MB per batch, at most")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    texts = corpus(args.mb)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    work = list(batches(texts, args.batch_docs, args.batch_mb * 1e6))
    print(f"{len(texts)} files, {mb:.1f} MB in {len(work)} batches, num_perm={args.num_perm}, "
          "one core")
    results = {}
    for name, sign in methods(args.num_perm).items():
        sign(work[0])  # warm-up: imports, caches, first-touch memory
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in work:
            sign(batch)
        results[name] = (mb / (time.process_time() - cpu), mb / (time.perf_counter() - wall))
        print(f"  {name}: {results[name][0]:.1f} MB/s", flush=True)
    fastest = max(v[0] for k, v in results.items() if not k.startswith("ours"))
    print(f"\n{'method':<20} {'MB/s (cpu)':>11} {'MB/s (wall)':>12} {'x fastest library':>18}")
    for name, (cpu_rate, wall_rate) in results.items():
        print(f"{name:<20} {cpu_rate:>11.1f} {wall_rate:>12.1f} {cpu_rate / fastest:>18.2f}")
    split = steps(work, args.num_perm)
    total = sum(split.values())
    print("\nours (batched), by step:")
    for name, seconds in split.items():
        print(f"  {name:<22} {seconds:6.3f} s CPU  {mb / seconds:7.1f} MB/s  "
              f"{seconds / total:4.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
