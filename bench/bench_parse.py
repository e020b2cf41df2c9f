"""The parse stage against tree-sitter's bare ``parse``, per language, on one core.

    .venv/bin/python bench/bench_parse.py [--mb 2] [--repeat 3] [--languages go ...]
                                          [--json OUT.json]

For each language it times, on the same files in the same run, (a) the reference: the
grammar's ``Parser.parse`` on the UTF-8 bytes, nothing else, and (b) the whole stage as
``ParseCode`` runs it per document: ``Parsers.analyze`` (parse with the time limit, health,
definitions, doc comments), the syntax verdict, the syntax spans (``parse_ranges``) and
the pair records under CodeSearchNet's rules (``pair_records``). It reports MB/s of both
and the stage's cost as a ratio to the bare parse (the issue's goal: at most 1.3 in every
language, and 10 MB/s per core on Python). The process is pinned to one core and timed in
CPU seconds (``time.process_time``); each document's time is the best of ``--repeat`` runs
of each side, taken in turns (``measure``), so that neighbours on a shared machine slow
neither side. Python, C and JavaScript are real code from this machine; the rest is
generated (``parse_corpus``).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parse_corpus import GENERATED, generated_code, real_code  # noqa: E402

from pipelines.parse import PairRules, Parsers, pair_records, syntax_verdict  # noqa: E402
from pipelines.parse import grammars  # noqa: E402
from pipelines.records import Record, record_id  # noqa: E402
from pipelines.spans import parse_ranges  # noqa: E402


def _records(lang: str, files: list[tuple[str, str]]) -> list[Record]:
    return [Record(id=record_id(path, text), text=text, kind="code", lang=lang,
                   component="code", path=path) for path, text in files]


def bare(parsers: Parsers, record: Record) -> int:
    """The reference: parse the document's bytes, nothing more; returns the root's child
    count (so the work cannot be skipped)."""
    parser = parsers.get(record.lang, record.path)
    return parser.parse(record.text.encode("utf-8", "surrogatepass")).root_node.child_count


def stage(parsers: Parsers, record: Record, rules: PairRules) -> int:
    """What ``ParseCode`` does with a code document; returns the pairs made."""
    result = parsers.analyze(record.text, record.lang, record.path)
    if syntax_verdict(result, 0.02) is not None:
        return 0
    parse_ranges(record.text, result, ())
    return len(pair_records(record, result, "pairs", rules))


def measure(parsers: Parsers, records: list[Record], rules: PairRules,
            repeat: int) -> tuple[float, float, int]:
    """(bare seconds, stage seconds, pairs): per document the best of ``repeat`` CPU-time
    runs of each side, taken in turns, summed over the documents. Per-document minima keep
    a burst of load on a shared machine from landing on one side only."""
    best_bare = [float("inf")] * len(records)
    best_stage = [float("inf")] * len(records)
    pairs = 0
    clock = time.process_time
    for _ in range(repeat):
        pairs = 0
        for i, record in enumerate(records):
            start = clock()
            bare(parsers, record)
            middle = clock()
            pairs += stage(parsers, record, rules)
            end = clock()
            best_bare[i] = min(best_bare[i], middle - start)
            best_stage[i] = min(best_stage[i], end - middle)
    return sum(best_bare), sum(best_stage), pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=2.0, help="MB of code per language")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; best kept")
    parser.add_argument("--languages", nargs="*", help="only these (default: all)")
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
    for lang in sorted(args.languages or corpus):
        records = _records(lang, corpus[lang])
        if not records:
            continue
        mb = sum(len(r.text.encode("utf-8", "surrogatepass")) for r in records) / 1e6
        t_bare, t_stage, pairs = measure(parsers, records, rules, args.repeat)
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
