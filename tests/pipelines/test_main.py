"""``codemix build`` when the runner only writes the job down (template, dry run, jar)."""

from __future__ import annotations

import pytest
from apache_beam.options.pipeline_options import DebugOptions, PipelineOptions, PortableOptions

from pipelines.main import _not_run_now, portable_defaults

TEMPLATE = "--template_location=gs://b/templates/codemix.json"


@pytest.mark.parametrize("runner", ["DataflowRunner", "dataflow", "TestDataflowRunner",
                                    "apache_beam.runners.dataflow.dataflow_runner.DataflowRunner"])
def test_a_dataflow_template_is_written_not_run(runner):
    line = _not_run_now(PipelineOptions([f"--runner={runner}", TEMPLATE]))
    assert line == ("wrote the Dataflow template gs://b/templates/codemix.json; "
                    "the build runs when it is launched")


def test_a_dataflow_dry_run_is_not_run():
    line = _not_run_now(PipelineOptions(["--runner=DataflowRunner", "--dry_run=true"]))
    assert line == "dry run: the pipeline was built for Dataflow and not submitted"


@pytest.mark.parametrize("runner", ["SparkRunner", "FlinkRunner", "PortableRunner"])
def test_an_executable_jar_is_written_not_run(runner):
    line = _not_run_now(PipelineOptions([f"--runner={runner}",
                                         "--output_executable_path=/tmp/codemix.jar"]))
    assert line == "wrote the executable jar /tmp/codemix.jar; the build runs when it is submitted"


@pytest.mark.parametrize("args", [
    ["--runner=DataflowRunner"],
    [TEMPLATE],                                    # DirectRunner ignores the option: it runs
    ["--runner=FlinkRunner", "--dry_run=true"],
    ["--output_executable_path=/tmp/codemix.jar"],  # DirectRunner ignores it too
])
def test_every_other_build_runs_now(args):
    assert _not_run_now(PipelineOptions(args)) is None


@pytest.mark.parametrize("runner", ["PortableRunner", "portable", "SparkRunner", "FlinkRunner",
                                    "apache_beam.runners.portability.flink_runner.FlinkRunner"])
def test_portable_runners_get_sdk_fusion_and_a_harness_per_task(runner):
    options = PipelineOptions(portable_defaults([f"--runner={runner}"]))
    assert options.view_as(DebugOptions).lookup_experiment("pre_optimize") == "all"
    assert int(options.view_as(PortableOptions).environment_cache_millis) == 0


def test_a_user_choice_of_fusion_is_kept():
    args = ["--runner=SparkRunner", "--experiments=pre_optimize=none"]
    assert portable_defaults(args) == args


@pytest.mark.parametrize("args", [[], ["--runner=DirectRunner"], ["--runner=DataflowRunner"]])
def test_other_runners_are_left_as_they_are(args):
    assert portable_defaults(args) == args


def test_the_embedded_job_service_fuses_for_itself():
    args = portable_defaults(["--runner=PortableRunner", "--job_endpoint=embed"])
    assert PipelineOptions(args).view_as(DebugOptions).lookup_experiment("pre_optimize") is None
