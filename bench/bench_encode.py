"""Tokenization throughput: our ``encode_batch`` (tiktoken fast path) against raw HF
``tokenizers`` on the same documents, one process on one core, with ids checked identical.

    .venv/bin/python bench/bench_encode.py [--mb 50] [--vocab-size 51200] [--train-mb 16]
                                           [--tokenizer tokenizer.json] [--save PATH]

Documents are Python files from the standard library and the installed packages (the
``site-packages`` this interpreter uses), taken in the order of the SHA-256 of their paths,
files over 1 MB and non-UTF-8 files skipped, until ``--mb`` MB. Unless ``--tokenizer`` names
one, a tokenizer is trained with ``tokenizer.train.train_bpe`` on the first ``--train-mb``
MB of them (on the same single core; not timed in the ratios).

Each path encodes the documents in batches of 256, as ``TokenizeRecords`` batches them:
raw ``Tokenizer.encode_batch`` (what a user would call), raw ``encode_batch_fast`` (no
offsets; our fallback), and ``tokenizer.encode.encode_batch`` after its one-off conversion
and check (timed separately). Every document's ids from our path must equal HF's, or the
script exits 1. Absolute MB/s drift on shared machines; the ratios are what to compare.
"""

from __future__ import annotations

import os

# NOTE: before tokenizers is imported: its Rayon pool is sized once, at first use.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import sysconfig  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tokenizer.encode import encode_batch, fallback_reason  # noqa: E402
from tokenizer.load import load_tokenizer  # noqa: E402
from tokenizer.train import train_bpe  # noqa: E402

BATCH = 256
MAX_FILE_BYTES = 1_000_000


def documents(megabytes: float) -> list[str]:
    """Python files of the standard library and site-packages, in path-hash order."""
    roots = {pathlib.Path(sysconfig.get_paths()[key]) for key in ("stdlib", "purelib")}
    paths = sorted({p for root in roots for p in root.rglob("*.py") if p.is_file()},
                   key=lambda p: hashlib.sha256(str(p).encode()).digest())
    texts, budget = [], megabytes * 1e6
    for path in paths:
        data = path.read_bytes()
        if len(data) > MAX_FILE_BYTES:
            continue
        try:
            texts.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            continue
        budget -= len(data)
        if budget <= 0:
            break
    return texts


def batches(texts: list[str]):
    for start in range(0, len(texts), BATCH):
        yield texts[start:start + BATCH]


def timed_hf(tok, texts: list[str], method: str) -> tuple[list[list[int]], float]:
    """Ids from a raw HF batch method, and the seconds spent inside it."""
    tok.encode_special_tokens = True  # special-token strings are text, as in our path
    call = getattr(tok, method)
    ids, seconds = [], 0.0
    for batch in batches(texts):
        start = time.perf_counter()
        out = call(batch, add_special_tokens=False)
        seconds += time.perf_counter() - start
        ids += [e.ids for e in out]
    return ids, seconds


def timed_ours(tok, texts: list[str]) -> tuple[list[np.ndarray], float]:
    ids, seconds = [], 0.0
    for batch in batches(texts):
        start = time.perf_counter()
        ids += encode_batch(tok, batch)
        seconds += time.perf_counter() - start
    return ids, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="MB of documents (default 50)")
    parser.add_argument("--vocab-size", type=int, default=51_200)
    parser.add_argument("--train-mb", type=float, default=16.0,
                        help="MB of the documents to train the tokenizer on (default 16)")
    parser.add_argument("--tokenizer", help="a tokenizer.json to use instead of training one")
    parser.add_argument("--save", help="write the trained tokenizer here, for --tokenizer")
    args = parser.parse_args()

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"one core: affinity {sorted(os.sched_getaffinity(0))}, RAYON_NUM_THREADS=1, "
          f"TOKENIZERS_PARALLELISM=false")

    start = time.perf_counter()
    texts = documents(args.mb)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"documents: {len(texts):,} Python files, {mb:.1f} MB "
          f"(read in {time.perf_counter() - start:.1f} s)")

    if args.tokenizer:
        tok = load_tokenizer(args.tokenizer)
        print(f"tokenizer: {args.tokenizer}, vocab {tok.get_vocab_size():,}")
    else:
        sample, size = [], 0.0
        for text in texts:
            if size >= args.train_mb * 1e6:
                break
            sample.append(text)
            size += len(text.encode("utf-8"))
        start = time.perf_counter()
        tok = train_bpe(sample, args.vocab_size)
        print(f"tokenizer: trained by tokenizer.train on {size / 1e6:.1f} MB of them, vocab "
              f"{tok.get_vocab_size():,} (asked {args.vocab_size:,}) in "
              f"{time.perf_counter() - start:.0f} s")
        if args.save:
            tok.save(args.save)

    start = time.perf_counter()
    reason = fallback_reason(tok)
    print(f"fast path: {'tiktoken' if reason is None else 'NONE: ' + reason} "
          f"(conversion and check: {time.perf_counter() - start:.2f} s, once per worker)")

    ours, t_ours = timed_ours(tok, texts)
    hf, t_hf = timed_hf(tok, texts, "encode_batch")
    hf_fast, t_hf_fast = timed_hf(tok, texts, "encode_batch_fast")

    differ = [i for i, (a, b) in enumerate(zip(ours, hf)) if a.tolist() != b]
    differ += [i for i, (a, b) in enumerate(zip(hf_fast, hf)) if a != b]
    tokens = sum(map(len, hf))
    print(f"tokens: {tokens:,} ({mb * 1e6 / tokens:.2f} bytes/token)")
    print(f"{'HF Tokenizer.encode_batch':34s} {mb / t_hf:7.2f} MB/s  ({t_hf:6.1f} s)")
    print(f"{'HF Tokenizer.encode_batch_fast':34s} {mb / t_hf_fast:7.2f} MB/s  "
          f"({t_hf_fast:6.1f} s)")
    print(f"{'codemix encode_batch':34s} {mb / t_ours:7.2f} MB/s  ({t_ours:6.1f} s)")
    print(f"ratio vs encode_batch:      {t_hf / t_ours:5.2f}x  (goal >= 5x)")
    print(f"ratio vs encode_batch_fast: {t_hf_fast / t_ours:5.2f}x")
    if differ:
        print(f"NOT token-identical: {len(set(differ))} of {len(texts)} documents differ "
              f"(first: {min(differ)})")
        return 1
    print(f"token-identical on all {len(texts):,} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
