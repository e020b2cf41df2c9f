"""Per-core rates of the build's stages, as ``bench/`` measured them.

One home for the figures that turn bytes into expected seconds: ``--plan``'s time estimate
and the progress's ETA of tokenizer training, which runs inside one library call and so
cannot count its own way through."""

from __future__ import annotations

RATES_MB_S = {
    "read": 21.5, "clean": 64.6, "filter": 21.8, "redact": 31.3, "decontam": 14.2,
    "dedup": 49.2, "parse": 7.2, "tokenizer": 10.6, "tokenize": 20.4,
}
"""MB of input per second on one core, per stage, as ``docs/benchmarks.md`` gives them:
``bench/bench_build.py`` (read, clean, filter, dedup fingerprints, tree-sitter parse, BPE
training), ``bench/bench_ingest.py`` (redact, decontaminate) and ``bench/bench_encode.py``
(the checked tiktoken encoder)."""
