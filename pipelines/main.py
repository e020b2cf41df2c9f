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
import contextlib
import logging
import sys
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.options.pipeline_options import (DirectOptions,
                                                  GoogleCloudOptions,
                                                  PipelineOptions, PortableOptions,
                                                  StandardOptions, TestOptions)

from pipelines.accounting import check_balanced
from pipelines.alerts import build_alerts
from pipelines.clustering import ClusteringDidNotConverge
from pipelines.config import BuildConfig, ConfigError, load_config
from pipelines.decontam import BenchmarkIndex
from pipelines.droplog import DROP_LOG_DIR
from pipelines.plan import plan_lines
from pipelines.progress import ProgressReporter, job_counts, metric_counts
from pipelines.results import STATS_NAME
from pipelines.runners import DIRECT_RUNNERS, runner_class
from pipelines.staging import build_root, discard, prepare, publish, published_root
from pipelines.timing import BuildClock, timings, write_timings
from pipelines.transforms import build
from report import REPORT_NAME, write_report
from shards.manifest import MANIFEST_NAME


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codemix build",
        description="Build a deduplicated, tokenized, sharded corpus from a mixture spec. "
                    "Options not listed here are passed to Apache Beam (e.g. --runner).",
        allow_abbrev=False)  # a prefix of one of Beam's options must stay Beam's
    parser.add_argument("config", help="mixture spec (YAML), see configs/demo.yaml")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress while the build runs (the summary still prints)")
    parser.add_argument("--plan", "--dry-run", action="store_true",
                        help="validate the config, list every input with its files and "
                             "bytes, the stages, the LSH setting, the output layout and a "
                             "time estimate per stage; write nothing")
    parser.add_argument("--strict", action="store_true",
                        help="publish nothing when the build has a warning (an input that "
                             "kept no document or lost more than warn_drop_fraction of it "
                             "at read, an empty component): exit 1 and keep the previous "
                             "corpus; the config's strict: true does the same")
    return parser


def _check_benchmarks(config: BuildConfig) -> None:
    """Load every benchmark set now: a missing one is one line before the pipeline starts,
    not a worker error later."""
    for spec in {c.decontam for c in config.components if c.decontam.enabled}:
        try:
            BenchmarkIndex(spec)
        except ValueError as err:
            raise ConfigError(f"decontam: {err}") from None


def check_runner(options: PipelineOptions) -> None:
    """Refuse DirectRunner's parallel workers. ``FnApiRunner.run_pipeline``, where every
    DirectRunner spelling runs our pipeline, gives each stage ``--direct_num_workers``
    workers (0 means one per CPU) and, whenever that is not 1, runs them through
    ``ParallelBundleManager``, whatever ``--direct_running_mode`` says (``in_memory``, the
    default, only logs a warning). That manager loses elements of large shuffles (1,000,000
    documents: 2 workers 318,625 and 4 workers 314,454 dedup candidate pairs against
    319,254 in one process, differently in each run), so the build would silently keep
    duplicates and stop being reproducible. ``BundleBasedDirectRunner`` ignores the flag;
    it is refused too, so that one rule holds for every direct runner. PortableRunner with
    ``--job_endpoint=embed`` runs FnApiRunner without reading the flag (one worker)."""
    runner = options.view_as(StandardOptions).runner or StandardOptions.DEFAULT_RUNNER
    workers = options.view_as(DirectOptions).direct_num_workers
    cls = runner_class(runner)
    if workers != 1 and cls is not None and issubclass(cls, DIRECT_RUNNERS):
        raise ConfigError(
            f"--runner={runner} with --direct_num_workers={workers} splits every stage over "
            "parallel workers (Beam's ParallelBundleManager), which loses elements of large "
            "shuffles; run it in one process (--direct_num_workers=1, the default) or on a "
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


class BuildRefused(Exception):
    """A strict build had warnings (``pipelines.alerts``): nothing was published.

    Attributes:
        alerts: the warnings, one line each.
    """

    def __init__(self, alerts: list[str], output: str):
        super().__init__(f"strict: {len(alerts)} warning(s), nothing published; the corpus "
                         f"at {output} is unchanged")
        self.alerts = alerts


class BuildFailed(Exception):
    """The runner failed the job (a worker lost more often than the engine retries, say):
    the CLI says so in one line, with the engine's first line of why."""


class _JobErrorsUnlogged(logging.Filter):
    """Drops the portable runner's copy of the job's error messages (it logs each on the
    root logger as it arrives); the same text ends the ``BuildFailed`` line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


class _UserErrorsUnlogged(logging.Filter):
    """Drops the log record of a step failing with a user error or an interrupt: Beam logs
    a failing step's exception with its traceback before re-raising it (``DoFnRunner``'s
    ``_reraise_augmented``), and the CLI says either in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(
            record.exc_info[1], (ClusteringDidNotConverge, KeyboardInterrupt)))


@contextlib.contextmanager
def _errors_said_once() -> Iterator[None]:
    """Beam's log records of errors that the CLI then says in one line, silenced."""
    quiet = [(logging.getLogger("apache_beam.runners.common"), _UserErrorsUnlogged()),
             (logging.getLogger(), _JobErrorsUnlogged())]
    for logger, fil in quiet:
        logger.addFilter(fil)
    try:
        yield
    except RuntimeError as err:
        first = (str(err).strip().splitlines() or [""])[0]
        if not (first.startswith("Pipeline ") and " failed in state " in first):
            raise
        raise BuildFailed(f"the runner failed the build: {first[:500]}") from None
    finally:
        for logger, fil in quiet:
            logger.removeFilter(fil)


def run(argv: list[str] | None = None) -> int:
    """Build the corpus; raises ``ConfigError`` for user errors (the CLI prints one line).

    The build is staged (``pipelines.staging``) and published only when it succeeded: on
    any error, on ``KeyboardInterrupt`` (SIGINT, or SIGTERM as the CLI turns it), and on
    ``BuildRefused`` (a strict build with warnings), the staging area is discarded and the
    previous corpus is left as it was. Warnings (``pipelines.alerts``) follow the summary,
    on stderr.
    """
    args, beam_args = _parser().parse_known_args(argv)
    config = load_config(args.config)
    _check_benchmarks(config)
    options = PipelineOptions(beam_args)
    check_runner(options)
    out = config.output.rstrip("/")
    root = build_root(out)
    if args.plan:
        build(beam.Pipeline(), config, root)  # constructed, never run: the graph's own checks
        print("\n".join(plan_lines(config)))
        return 0
    not_run = _not_run_now(options)
    if not_run is None:
        prepare(out, root)
    clock = BuildClock.start()
    reporter = None if args.quiet or not_run else ProgressReporter().start()
    try:
        with _errors_said_once():
            pipeline = beam.Pipeline(options=options)
            manifest = build(pipeline, config, root)
            if not_run is not None:
                # No driver waits for this job: it publishes as its own last step.
                manifest | "Publish" >> beam.Map(lambda _, output, at: publish(output, at),
                                                 out, root)
            result = pipeline.run()
            if reporter and (job := job_counts(result)):
                reporter.watch_job(job)
            result.wait_until_finish()
        if not_run is not None:
            print(not_run)
            return 0
        if reporter:
            reporter.stop(final=metric_counts(result.metrics()))
            reporter = None
        stats = write_timings(f"{root}/{STATS_NAME}", timings(clock, result.metrics()))
        check_balanced(stats)
        alerts = build_alerts(stats, config)
        if alerts and (args.strict or config.strict):
            raise BuildRefused(alerts, out)
        write_report(root, dest=f"{root}/{REPORT_NAME}")
    except KeyboardInterrupt:
        if reporter:
            reporter.stop(show=False)
        discard(root)
        raise KeyboardInterrupt(f"the corpus at {out} is unchanged") from None
    except BaseException:
        if reporter:
            reporter.stop(show=False)
        discard(root)
        raise
    publish(out, root)
    out = published_root(out)
    print(f"built {out}/{MANIFEST_NAME} in {stats['timings']['build']['wall_s']:.0f}s")
    print("\n".join(summary(stats, out)))
    print(f"  report: {out}/{REPORT_NAME}")
    for alert in alerts:
        print(f"codemix: warning: {alert}", file=sys.stderr)
    return 0


def summary(stats: dict, out: str) -> list[str]:
    """The lines printed after a build: each component's funnel, the encoder's paths (a
    fallback to ``tokenizers`` is slower and said with its reason), the side files."""
    lines = []
    for name, comp in stats["components"].items():
        dropped = ", ".join(f"{r} {n}" for r, n in comp["dropped"].items()) or "none"
        edits = ", ".join(f"{k} {n}" for k, n in comp["edits"].items()) or "none"
        lines.append(f"  {name}: {comp['in']} in ({comp['bytes_in'] / 1e6:.1f} MB), "
                     f"{comp['kept']} kept, {comp['tokens']} tokens in {comp['shards']} "
                     f"shard(s); dropped: {dropped}; edits: {edits}")
    enc = stats["encoder"]
    reasons = "".join(f"; FALLBACK: {r}" for r in enc["fallback_reasons"])
    lines.append(f"  encoder: {enc['fast']} documents by tiktoken, {enc['fallback']} by "
                 f"tokenizers{reasons}")
    lines.append(f"  stats: {out}/{STATS_NAME}  drop log: {out}/{DROP_LOG_DIR}/  "
                 f"tokenizer: {out}/tokenizer.json")
    return lines
