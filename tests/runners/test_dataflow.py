"""DataflowRunner, offline: ``codemix build`` writes a Dataflow template to a local path.

Google Cloud cannot be reached from CI, so the test stops where Beam 2.62 stops without it:
``--template_location`` makes DataflowRunner build the job, the worker package
(``--setup_file``) and the pipeline proto, write them down and submit nothing. Local staging
and temp folders need ``--dataflow_endpoint`` on localhost, which is how Beam's validator
tells a service run (gs:// paths only) from a local one; ``--no_auth`` skips credentials.
What is checked is what Dataflow would be sent: our stages in the pipeline, the worker
package, and the SDK version the workers' container must match.

The submitting side needs ``apache-beam[gcp]`` (the project's ``gcp`` extra), which the main
venv must not get (it moves grpcio and protobuf), so it lives in its own cached venv.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tarfile

import pytest
import yaml
from apache_beam.portability.api import beam_runner_api_pb2

from venvs import REPO, cached

BEAM_VERSION = "2.62.0"
STAGES = ("ReadSources", "CleanRecords", "RedactRecords", "Decontaminate", "Deduplicate",
          "ParseCode", "DedupPairs", "BuildTokenizer", "TokenizeRecords", "WriteShards",
          "WriteDropLog", "WriteClusters", "Finish")
"""Top-level steps of ``pipelines.transforms.build``."""


@pytest.fixture(scope="module")
def codemix() -> pathlib.Path:
    """The ``codemix`` command of a venv holding this checkout with its ``gcp`` extra, as the
    README tells a Dataflow user to install it."""
    return cached("gcp", "-e", f"{REPO}[gcp]").parent / "codemix"


def _demo_config(tmp_path: pathlib.Path) -> pathlib.Path:
    """configs/demo.yaml with its output under ``tmp_path``."""
    config = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    config["output"] = str(tmp_path / "out")
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _build(codemix: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    # cwd is the checkout, so --setup_file=./setup.py is the README's command.
    return subprocess.run([str(codemix), "build", *args, "--runner=DataflowRunner",
                           "--project=codemix-offline", "--region=europe-west1",
                           "--setup_file=./setup.py"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_template_holds_every_stage_the_worker_package_and_the_sdk_version(codemix, tmp_path):
    config = _demo_config(tmp_path)
    old_manifest = tmp_path / "out" / "manifest.json"
    old_manifest.parent.mkdir()
    old_manifest.write_text("{}")
    for folder in ("staging", "temp"):
        (tmp_path / folder).mkdir()
    template = tmp_path / "template.json"

    result = _build(codemix, str(config), f"--template_location={template}",
                    f"--staging_location={tmp_path / 'staging'}",
                    f"--temp_location={tmp_path / 'temp'}",
                    "--no_auth", "--dataflow_endpoint=http://localhost:1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"wrote the Dataflow template {template}; the build runs when it is launched"]
    assert old_manifest.read_text() == "{}", "creating a template must not touch the output"
    job = json.loads(template.read_text())
    environment = job["environment"]
    assert environment["userAgent"]["version"] == BEAM_VERSION
    (pool,) = environment["workerPools"]
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert pool["workerHarnessContainerImage"].endswith(
        f"/beam_python{python}_sdk:{BEAM_VERSION}")
    staged = {p["name"]: pathlib.Path(p["location"]) for p in pool["packages"]}
    with tarfile.open(staged["workflow.tar.gz"]) as sdist:
        names = set(sdist.getnames())
        requires = sdist.extractfile("codemix-0.1.0/codemix.egg-info/requires.txt").read()
    # What a worker installs: the lines before the first [extra] section.
    installed = requires.decode().split("\n[")[0].splitlines()
    assert {"codemix-0.1.0/pipelines/parse/analysis.py", "codemix-0.1.0/dedup/near.py",
            "codemix-0.1.0/tokenizer/encode.py", "codemix-0.1.0/shards/format.py"} <= names
    assert f"apache-beam=={BEAM_VERSION}" in installed
    assert not [r for r in installed if r.startswith("torch")]

    url = environment["sdkPipelineOptions"]["options"]["pipelineUrl"]
    pipeline = beam_runner_api_pb2.Pipeline.FromString(pathlib.Path(url).read_bytes())
    transforms = pipeline.components.transforms
    (root,) = pipeline.root_transform_ids
    top = {transforms[t].unique_name for t in transforms[root].subtransforms}
    assert set(STAGES) <= top
    (env,) = pipeline.components.environments.values()
    assert env.urn == "beam:env:docker:v1"


def test_dry_run_builds_the_job_and_submits_nothing(codemix, tmp_path):
    # gs:// paths as a user gives them: a dry run checks their form and never opens them.
    result = _build(codemix, str(_demo_config(tmp_path)), "--dry_run=true",
                    "--temp_location=gs://codemix-offline/tmp")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "dry run: the pipeline was built for Dataflow and not submitted"]
    assert not (tmp_path / "out").exists()
