"""Ingest throughput: read + clean + filter + redact + decontaminate, per core, on the
machine's real code, as plain loops of the stage functions and as the Beam stages on
DirectRunner, in the same run.

    .venv/bin/python bench/bench_ingest.py [--max-files N]

The corpus is what every machine with Python has: the standard library's and the installed
site-packages' Python, C and C++ files (as ``folder`` inputs) and the packages' metadata
descriptions (prose). The plain loop calls each stage's pure function on every document in
one process (what a user would write without a pipeline framework) and reports MB/s per
stage and for the whole ingest; the Beam run executes the same stages (``ReadSources``,
``CleanRecords``, redaction, ``Decontaminate``) on DirectRunner in one process, so its
MB/s is per core too. Absolute times drift on shared machines; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timing import timed  # noqa: E402

import apache_beam as beam  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from pipelines import sources  # noqa: E402
from pipelines.accounting import Drop  # noqa: E402
from pipelines.clean import CleanRecords, clean_record  # noqa: E402
from pipelines.config import parse_config  # noqa: E402
from pipelines.decontam import BenchmarkIndex, Decontaminate, decontaminate  # noqa: E402
from pipelines.filters import filter_record  # noqa: E402
from pipelines.ingest import ReadSources  # noqa: E402
from pipelines.pii import RedactRecords, redact_record  # noqa: E402


def bench_config(max_files: int, output: str):
    """Real code and prose of this machine as a mixture spec."""
    code = ["**/*.py", "**/*.c", "**/*.h", "**/*.cc", "**/*.cpp", "**/*.hpp"]
    return parse_config({
        "output": output,
        "components": {
            "code": {"kind": "code", "weight": 0.9, "inputs": [
                {"url": "{stdlib}", "format": "folder", "name": "stdlib", "include": code,
                 "exclude": ["site-packages/**"], "max_files": max_files},
                {"url": "{site_packages}", "format": "folder", "name": "site-packages",
                 "include": code, "max_files": max_files}]},
            "text": {"kind": "text", "weight": 0.1, "inputs": [
                {"url": "{site_packages}", "format": "package-metadata", "name": "pypi"}]},
        }}, check_paths=True)



def plain_loop(config) -> tuple[int, int, list[tuple[str, float]]]:
    """Every stage's function over every document; returns (docs, bytes, stage times)."""
    specs = {c.name: c for c in config.components}
    times = {"read": 0.0, "clean": 0.0, "filter": 0.0, "redact": 0.0, "decontam": 0.0}
    indexes = {}
    docs = nbytes = 0

    def stage(name, fn, item):
        start = time.perf_counter()
        out = fn(item)
        times[name] += time.perf_counter() - start
        return out

    for comp in config.components:
        for spec in comp.inputs:
            start = time.perf_counter()
            units = [u for u in sources.list_units(spec, comp) if not isinstance(u, Drop)]
            times["read"] += time.perf_counter() - start
            for unit in units:
                start = time.perf_counter()
                read = list(sources.read_unit(spec, comp, unit))
                times["read"] += time.perf_counter() - start
                for record in read:
                    docs += 1
                    nbytes += record.bytes if isinstance(record, Drop) else \
                        record.meta.get("bytes", len(record.text.encode()))
                    if isinstance(record, Drop):
                        continue
                    record = stage("clean", lambda r: clean_record(r, specs), record)
                    if isinstance(record, Drop):
                        continue
                    record = stage("filter", lambda r: filter_record(r, specs), record)
                    if isinstance(record, Drop):
                        continue
                    record = stage("redact", lambda r: redact_record(r, specs), record)
                    dspec = specs[record.component].decontam
                    if dspec not in indexes:
                        indexes[dspec] = BenchmarkIndex(dspec)
                    stage("decontam", lambda r: decontaminate(r, dspec, indexes[dspec]), record)
    return docs, nbytes, list(times.items())


def beam_run(config, out: pathlib.Path) -> dict:
    """The same stages as a Beam pipeline on DirectRunner (one process)."""
    summary = out / "summary.json"

    def write(counts):
        summary.write_text(json.dumps(dict(counts)))

    with beam.Pipeline(options=PipelineOptions(["--direct_num_workers=1"])) as p:
        records, read_drops = p | "Read" >> ReadSources(config)
        kept, (clean_drops, filter_drops), _ = records | "Clean" >> CleanRecords(config)
        clear, decontam_drops = (kept | "Redact" >> RedactRecords(config)
                                 | "Decontam" >> Decontaminate(config))
        outcomes = [clear | "KeepKey" >> beam.Map(lambda r: "kept")] + [
            d | f"DropKey{i}" >> beam.Map(lambda d: "dropped")
            for i, d in enumerate((read_drops, clean_drops, filter_drops, decontam_drops))]
        _ = (outcomes | beam.Flatten() | beam.combiners.Count.PerElement()
             | beam.combiners.ToList() | beam.Map(write))
    return json.loads(summary.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-files", type=int, default=3000,
                        help="files per code input (stdlib, site-packages)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(args.max_files, str(pathlib.Path(tmp) / "out"))
        (docs, nbytes, stage_times), t_plain = timed(lambda: plain_loop(config))
        counts, t_beam = timed(lambda: beam_run(config, pathlib.Path(tmp)))
    mb = nbytes / 1e6
    print(f"\ncorpus: {docs} documents, {mb:.1f} MB of this machine's code and prose\n")
    print(f"{'stage (plain loop, 1 core)':<28} {'seconds':>8} {'MB/s':>8}")
    for name, t in stage_times:
        print(f"{name:<28} {t:>8.2f} {mb / t if t else float('inf'):>8.1f}")
    print(f"{'whole ingest':<28} {t_plain:>8.2f} {mb / t_plain:>8.1f}")
    print(f"\nBeam DirectRunner (1 process): {t_beam:.1f} s, {mb / t_beam:.1f} MB/s = "
          f"{t_plain / t_beam:.2f}x the plain loop's throughput; outcomes {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
