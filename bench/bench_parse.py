"""The parse stage against tree-sitter's bare ``parse``, per language, on one core.

    .venv/bin/python bench/bench_parse.py [--mb 2] [--repeat 3] [--json OUT.json]

For each language it times, on the same files in the same run, (a) the reference: the
grammar's ``Parser.parse`` on the UTF-8 bytes, nothing else, and (b) the whole stage as
``ParseCode`` runs it per document: ``Parsers.analyze`` (parse with the time limit, health,
definitions, doc comments), the syntax verdict, the syntax spans (``parse_ranges``) and
the pair records under CodeSearchNet's rules (``pair_records``). It reports MB/s of both
and the stage's cost as a ratio to the bare parse (the issue's goal: at most 1.3 in every
language, and 10 MB/s per core on Python). The process is pinned to one core and timed in
CPU seconds (``time.process_time``), each measurement the best of ``--repeat`` alternating
runs, so that neighbours on a shared machine slow neither side. Python, C and JavaScript are real code from this machine; the rest is
generated (``parse_corpus``).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parse_corpus import GENERATED, generated_code, real_code  # noqa: E402

from pipelines.parse import PairRules, Parsers, pair_records, syntax_verdict  # noqa: E402
from pipelines.parse import grammars  # noqa: E402
from pipelines.records import Record, record_id  # noqa: E402
from pipelines.spans import parse_ranges  # noqa: E402


def _cpu_seconds(fn: Callable[[], object]) -> tuple[object, float]:
    """``fn()`` and the CPU seconds it took."""
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def _records(lang: str, files: list[tuple[str, str]]) -> list[Record]:
    return [Record(id=record_id(path, text), text=text, kind="code", lang=lang,
                   component="code", path=path) for path, text in files]


def bare(parsers: Parsers, records: list[Record]) -> int:
    """The reference: parse each document's bytes, nothing more; returns the node count
    of the roots' children (so the work cannot be skipped)."""
    n = 0
    for r in records:
        parser = parsers.get(r.lang, r.path)
        n += parser.parse(r.text.encode("utf-8", "surrogatepass")).root_node.child_count
    return n


def stage(parsers: Parsers, records: list[Record], rules: PairRules) -> int:
    """What ``ParseCode`` does with each code document; returns the pairs made."""
    n = 0
    for r in records:
        result = parsers.analyze(r.text, r.lang, r.path)
        if syntax_verdict(result, 0.02) is not None:
            continue
        parse_ranges(r.text, result, ())
        n += len(pair_records(r, result, "pairs", rules))
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=2.0, help="MB of code per language")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; best kept")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    budget = int(args.mb * 1e6)
    corpus = {**real_code(budget), **{lang: generated_code(lang, budget) for lang in GENERATED}}
    parsers = Parsers(grammars.LANGUAGES)
    rules = PairRules()
    rows = []
    print(f"{'language':12} {'files':>6} {'MB':>6} {'bare MB/s':>10} {'stage MB/s':>11} "
          f"{'ratio':>6} {'pairs':>6}")
    for lang in sorted(corpus):
        records = _records(lang, corpus[lang])
        if not records:
            continue
        mb = sum(len(r.text.encode("utf-8", "surrogatepass")) for r in records) / 1e6
        t_bare = t_stage = float("inf")
        pairs = 0
        for _ in range(args.repeat):
            _, t = _cpu_seconds(lambda: bare(parsers, records))
            t_bare = min(t_bare, t)
            pairs, t = _cpu_seconds(lambda: stage(parsers, records, rules))
            t_stage = min(t_stage, t)
        row = {"language": lang, "files": len(records), "mb": round(mb, 3),
               "bare_mb_s": round(mb / t_bare, 2), "stage_mb_s": round(mb / t_stage, 2),
               "ratio": round(t_stage / t_bare, 3), "pairs": pairs}
        rows.append(row)
        print(f"{lang:12} {row['files']:>6} {mb:>6.2f} {row['bare_mb_s']:>10.2f} "
              f"{row['stage_mb_s']:>11.2f} {row['ratio']:>6.2f} {pairs:>6}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
