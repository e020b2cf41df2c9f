"""``codemix build`` when the runner only writes the job down (template, dry run, jar)."""

from __future__ import annotations

import pathlib

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.main import _not_run_now

REPO = pathlib.Path(__file__).resolve().parents[2]
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


def test_no_flatten_output_is_read_by_two_flattens():
    """Beam's Java fuser, which plans the build on Flink and Spark, refuses a graph where a
    Flatten's output is read by two Flattens ("PCollectionNodes [...] were consumed but
    never produced", apache/beam#34647). Checked on the whole build's graph, here without a
    JVM; tests/runners runs it on the engines."""
    import apache_beam as beam

    from pipelines.config import load_config
    from pipelines.transforms import build

    pipeline = beam.Pipeline()
    build(pipeline, load_config(str(REPO / "configs" / "demo.yaml")), "/tmp/never-written")
    transforms = pipeline.to_runner_api().components.transforms
    flatten = "beam:transform:flatten:v1"
    flattened = {pcoll for t in transforms.values() if t.spec.urn == flatten
                 for pcoll in t.outputs.values()}
    assert flattened, "the build has Flattens"
    readers: dict[str, int] = {}
    for t in transforms.values():
        if t.spec.urn == flatten:
            for pcoll in set(t.inputs.values()) & flattened:
                readers[pcoll] = readers.get(pcoll, 0) + 1
    assert max(readers.values(), default=0) <= 1
