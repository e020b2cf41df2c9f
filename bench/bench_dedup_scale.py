"""Dedup at scale: a generated corpus of short documents through the dedup transforms on
DirectRunner, with wall time and peak memory.

    .venv/bin/python bench/bench_dedup_scale.py [--docs 1000000] [--workers 2]
    .venv/bin/python bench/bench_dedup_scale.py --engine spark --workers 2   # a local cluster

The corpus is written to JSONL files first (Beam reads files far faster than ``Create``):
families of near-duplicate short documents (30-60 words from a 50,000-word vocabulary,
copies with a few words changed) plus exact copies and unique documents, about 30% of
them duplicates. The pipeline is the build's: records -> ``Deduplicate`` (exact, then
MinHash-LSH candidates, verification, connected components on the runner, keepers) ->
counts. Peak memory is the resident set of the runner's process(es) (``ru_maxrss`` of this
process and of its children: the multi-processing workers).

``--engine spark`` or ``flink`` runs it on a local cluster of ``--workers`` workers started by
``scripts/local-cluster.sh``, and reports the peak RSS of every kind of process of the
cluster (JVMs, worker pool, Python harnesses). On DirectRunner, ``--workers`` above 1 runs its ``multi_processing`` mode, which ``codemix build``
refuses: at a few hundred thousand documents it loses elements of the band shuffles and
the outcomes change from run to run (README, "Dedup at scale"). It stays here to measure
that; compare its outcomes with a one-process run.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import resource
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import apache_beam as beam  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from pipelines.config import DedupSpec  # noqa: E402
from pipelines.deduplicate import Deduplicate  # noqa: E402
from pipelines.records import Record, record_id  # noqa: E402
from processes import Sampler, cluster_down, cluster_up  # noqa: E402

VOCAB = [f"tok{i}" for i in range(50_000)]


def write_corpus(folder: pathlib.Path, docs: int, files: int, seed: int = 0) -> dict[str, int]:
    """Write ``docs`` JSONL documents over ``files`` files; returns what was planted."""
    rng = random.Random(seed)
    planted = {"unique": 0, "exact_copies": 0, "near_copies": 0}
    outs = [open(folder / f"part-{i:04d}.jsonl", "w") for i in range(files)]
    written = 0
    while written < docs:
        words = rng.choices(VOCAB, k=rng.randint(30, 60))
        family = [words]
        kind = rng.random()
        if kind < 0.1:
            family.append(list(words))
            planted["exact_copies"] += 1
        elif kind < 0.25:
            for _ in range(rng.randint(1, 3)):
                copy = list(words)
                copy[rng.randrange(len(copy))] = rng.choice(VOCAB)
                family.append(copy)
                planted["near_copies"] += 1
        planted["unique"] += 1
        for member in family[:docs - written]:
            text = " ".join(member)
            outs[written % files].write(json.dumps({"id": record_id(str(written), text),
                                                    "text": text}) + "\n")
            written += 1
    for f in outs:
        f.close()
    return planted


def to_record(line: str) -> Record:
    # Cluster harnesses do not load this script's globals: import here.
    import json  # noqa: PLC0415

    from pipelines.records import Record  # noqa: PLC0415

    obj = json.loads(line)
    return Record(id=obj["id"], text=obj["text"], kind="text", lang="en", component="c")


def write_summary(kvs: list[tuple[str, int]], path: str) -> None:
    import json  # noqa: PLC0415 (as in to_record)

    with open(path, "w") as f:
        json.dump(dict(kvs), f)


def direct_options(workers: int) -> list[str]:
    options = ["--direct_num_workers", str(workers)]
    if workers > 1:
        options += ["--direct_running_mode", "multi_processing"]
    return options


def run(folder: pathlib.Path, options: list[str]) -> dict[str, int]:
    summary = folder / "summary.json"
    with beam.Pipeline(options=PipelineOptions(options)) as p:
        records = (p | beam.io.ReadFromText(str(folder / "part-*.jsonl"))
                   | "Parse" >> beam.Map(to_record))
        kept, drops, rows, counts = records | Deduplicate(DedupSpec())
        outcomes = [kept | "K" >> beam.Map(lambda _: ("kept", 1)),
                    drops | "D" >> beam.Map(lambda d: (d.reason, 1)),
                    rows | "R" >> beam.Map(lambda _: ("cluster_rows", 1)),
                    counts | "C" >> beam.Map(lambda kv: (kv[0][1], kv[1]))]
        _ = (outcomes | beam.Flatten() | beam.CombinePerKey(sum) | beam.combiners.ToList()
             | beam.Map(write_summary, str(summary)))
    return json.loads(summary.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engine", choices=["direct", "spark", "flink"], default="direct")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        start = time.perf_counter()
        planted = write_corpus(folder, args.docs, args.files)
        t_write = time.perf_counter() - start
        sessions: set[int] = set()
        if args.engine == "direct":
            options = direct_options(args.workers)
        else:
            options, sessions = cluster_up(args.engine, args.workers)
        sampler = Sampler(sessions)
        sampler.start()
        start = time.perf_counter()
        try:
            counts = run(folder, options)
        finally:
            t_run = time.perf_counter() - start
            sampler.stop()
            if args.engine != "direct":
                cluster_down(args.engine)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\n{args.docs:,} documents (planted {planted}), written in {t_write:.0f} s")
    print(f"dedup on {args.engine} ({args.workers} worker(s)): {t_run:.0f} s, "
          f"{args.docs / t_run:,.0f} docs/s")
    print(f"outcomes: {counts}")
    print(f"peak RSS: this process {own:,.0f} MiB, largest child {children:,.0f} MiB")
    for name, kib in sorted(sampler.peaks().items()):
        print(f"peak RSS of the cluster's largest {name}: {kib / 1024:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
