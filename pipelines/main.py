"""``codemix build CONFIG.yaml [beam pipeline options]``: run the build pipeline.

Our flags are the config path; everything else goes to Beam's ``PipelineOptions``, so the
same command runs locally and on a cluster::

    codemix build configs/demo.yaml                                  # DirectRunner
    codemix build configs/demo.yaml --runner=PortableRunner --job_endpoint=embed \\
        --environment_type=LOOPBACK
    codemix build my.yaml --runner=DataflowRunner --project=P --region=R \\
        --temp_location=gs://B/tmp --setup_file=./setup.py
    codemix build my.yaml --runner=SparkRunner --spark_master_url=spark://H:7077 \\
        --environment_type=LOOPBACK
"""

from __future__ import annotations

import argparse
import json
import time

import apache_beam as beam
import fsspec
from apache_beam.options.pipeline_options import (DirectOptions, GoogleCloudOptions,
                                                  PipelineOptions, PortableOptions,
                                                  StandardOptions, TestOptions)

from pipelines.config import BuildConfig, ConfigError, load_config
from pipelines.decontam import BenchmarkIndex
from pipelines.droplog import DROP_LOG_DIR
from pipelines.transforms import CLUSTERS_DIR, STATS_NAME, build
from shards.manifest import MANIFEST_NAME


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codemix build",
        description="Build a deduplicated, tokenized, sharded corpus from a mixture spec. "
                    "Options not listed here are passed to Apache Beam (e.g. --runner).")
    parser.add_argument("config", help="mixture spec (YAML), see configs/demo.yaml")
    return parser


def _discard_old_manifest(output: str) -> None:
    """The output folder is not a valid corpus again until this build writes its manifest;
    the old side files go too, so the folder never mixes two builds' logs."""
    fs, root = fsspec.core.url_to_fs(output)
    path = f"{root.rstrip('/')}/{MANIFEST_NAME}"
    if fs.exists(path):
        fs.rm(path)
    for folder in (DROP_LOG_DIR, CLUSTERS_DIR):
        path = f"{root.rstrip('/')}/{folder}"
        if fs.exists(path):
            fs.rm(path, recursive=True)


def _check_benchmarks(config: BuildConfig) -> None:
    """Load every benchmark set now: a missing one is one line before the pipeline starts,
    not a worker error later."""
    for spec in {c.decontam for c in config.components if c.decontam.enabled}:
        try:
            BenchmarkIndex(spec)
        except ValueError as err:
            raise ConfigError(f"decontam: {err}") from None


PARALLEL_DIRECT_MODES = ("multi_threading", "multi_processing")


def _check_runner(options: PipelineOptions) -> None:
    """Refuse DirectRunner's parallel modes. With ``--direct_num_workers`` other than 1,
    ``multi_processing`` loses elements of large shuffles (Beam 2.78: at 300,000 documents,
    4 workers lost 0.6% of the dedup candidate pairs, differently with each worker count;
    100,000 lost none), so the build would silently keep duplicates and stop being
    reproducible. ``multi_threading`` splits stages over workers with the same code
    (FnApiRunner's ``ParallelBundleManager``) and is refused with it."""
    runner = options.view_as(StandardOptions).runner
    direct = options.view_as(DirectOptions)
    if (runner in (None, "DirectRunner", "direct")
            and direct.direct_running_mode in PARALLEL_DIRECT_MODES
            and direct.direct_num_workers != 1):
        raise ConfigError(
            f"--direct_running_mode={direct.direct_running_mode} with "
            f"--direct_num_workers={direct.direct_num_workers} loses elements of large "
            "shuffles in Beam's DirectRunner; run it in one process (the default) or on a "
            "distributed runner (--runner=DataflowRunner, SparkRunner, FlinkRunner)")


def _not_run_now(options: PipelineOptions) -> str | None:
    """The line to print when the runner only writes the job down, else None.

    DataflowRunner writes a template with ``--template_location`` and stops short of
    submitting with ``--dry_run``; the Flink and Spark job servers write a jar for
    ``flink run`` / ``spark-submit`` with ``--output_executable_path``. The build then runs
    later (maybe never, maybe more than once) or not at all: there are no stats to read yet,
    and the output folder, perhaps a finished corpus, must be left as it is.
    """
    runner = (options.view_as(StandardOptions).runner or "").rsplit(".", 1)[-1].lower()
    runner = runner.removesuffix("runner")
    jar = options.view_as(PortableOptions).output_executable_path
    if jar and runner in ("flink", "spark", "portable"):
        return f"wrote the executable jar {jar}; the build runs when it is submitted"
    if runner not in ("dataflow", "testdataflow"):
        return None
    template = options.view_as(GoogleCloudOptions).template_location
    if template:
        return f"wrote the Dataflow template {template}; the build runs when it is launched"
    if options.view_as(TestOptions).dry_run:
        return "dry run: the pipeline was built for Dataflow and not submitted"
    return None


def run(argv: list[str] | None = None) -> int:
    """Build the corpus; raises ``ConfigError`` for user errors (the CLI prints one line)."""
    args, beam_args = _parser().parse_known_args(argv)
    config = load_config(args.config)
    _check_benchmarks(config)
    options = PipelineOptions(beam_args)
    _check_runner(options)
    not_run = _not_run_now(options)
    if not_run is None:
        _discard_old_manifest(config.output)
    start = time.monotonic()
    with beam.Pipeline(options=options) as pipeline:
        build(pipeline, config)
    if not_run is not None:
        print(not_run)
        return 0
    out = config.output.rstrip("/")
    with fsspec.open(f"{out}/{STATS_NAME}", "rt") as f:
        stats = json.load(f)
    print(f"built {out}/{MANIFEST_NAME} in {time.monotonic() - start:.0f}s")
    for name, comp in stats["components"].items():
        dropped = ", ".join(f"{r} {n}" for r, n in comp["dropped"].items()) or "none"
        edits = ", ".join(f"{k} {n}" for k, n in comp["edits"].items()) or "none"
        print(f"  {name}: {comp['in']} in ({comp['bytes_in'] / 1e6:.1f} MB), {comp['kept']} "
              f"kept, {comp['tokens']} tokens in {comp['shards']} shard(s); dropped: "
              f"{dropped}; edits: {edits}")
    print(f"  stats: {out}/{STATS_NAME}  drop log: {out}/{DROP_LOG_DIR}/  "
          f"tokenizer: {out}/tokenizer.json")
    return 0
