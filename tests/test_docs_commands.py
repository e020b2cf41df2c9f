"""Every command in README.md and docs/ is accounted for: run here, run by a named test, or
parsed here (its script and options exist) where running it takes minutes to hours or a
cloud account.

Commands are read from the pages' ```sh blocks (a ``\\`` continues a line; a heredoc is
part of its command). A command that no rule below claims fails the check, so a page cannot
gain a command nobody runs without saying so here.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def commands(page: pathlib.Path) -> list[str]:
    """The commands of a page's ```sh blocks, continuations joined, comments dropped."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", page.read_text(), re.S):
        lines, heredoc = iter(block.splitlines()), None
        for line in lines:
            if heredoc:
                out[-1] += "\n" + line
                heredoc = None if line.strip() == heredoc else heredoc
                continue
            line = line.split("  #")[0].rstrip()
            if not line or line.lstrip().startswith("#"):
                continue
            while line.endswith("\\"):
                line = line[:-1].rstrip() + " " + next(lines).split("  #")[0].strip()
            out.append(line.strip())
            if m := re.search(r"<<'?(\w+)'?", line):
                heredoc = m.group(1)
    return out


RUN_HERE = {
    ("README.md", r"^codemix "): "test_the_readme_quick_start_runs_as_written",
}
"""(page, command pattern) -> the test of this file that runs those commands."""

BY_TEST = {
    r"^make test$": ".ci/run (CI)",
    r"^make demo$": "tests/runners/test_spark.py::test_spark_build_of_the_demo_is_byte_identical"
                    " and tests/training/test_training_run.py::test_two_process_run_lowers_the_loss",
    r"^codemix build my\.yaml$": "tests/pipelines/test_build.py::"
                                 "test_same_input_and_config_give_identical_bytes",
    r"^codemix build my\.yaml --runner=PortableRunner --job_endpoint=embed "
    r"--environment_type=LOOPBACK$": "tests/pipelines/test_build.py::"
                                     "test_same_input_and_config_give_identical_bytes",
    r"^scripts/local-cluster\.sh ": "tests/runners/test_spark.py::"
                                    "test_spark_build_of_the_planted_corpus_is_byte_identical",
    r"^codemix build my\.yaml \$\(scripts/local-cluster\.sh": "tests/runners/test_spark.py::"
                                                              "test_spark_build_of_the_demo_is_byte_identical",
    r"--runner=DataflowRunner .*--dry_run=true$": "tests/runners/test_dataflow.py::"
                                                  "test_dry_run_builds_the_job_and_submits_nothing",
    r"--runner=DataflowRunner .*--template_location=": "tests/runners/test_dataflow.py::"
                                                       "test_template_holds_every_stage_the_worker_package_and_the_sdk_version",
    r"^codemix train configs/demo-train\.yaml --nproc-per-node 2$":
        "tests/training/test_training_run.py::test_two_process_run_lowers_the_loss",
    r"^torchrun --standalone --nproc_per_node 2 -m training\.train ":
        "tests/training/test_training_kill_resume.py",
    r"bench/bench_train\.py$": "tests/training/test_training_bench.py::"
                               "test_bench_train_runs_without_beam_zstandard_or_tiktoken",
    r"^codemix eval .* --benchmark humaneval ": "tests/training/test_training_humaneval.py::"
                                                "test_eval_prints_pass_at_k_and_writes_every_sample",
    r"^codemix embed \S+ --input \S+\.jsonl --out \S+\.npy$":
        "tests/training/test_training_embedding.py::"
        "test_codemix_embed_writes_npy_and_json_lines",
}
"""Command pattern -> the test (file, and function where one) that runs that command."""

NOT_RUN = {
    r"^python -m venv \.venv-gcp && \.venv-gcp/bin/pip install -e '\.\[gcp\]'$":
        "installs the GCP client libraries (network, minutes)",
    r"--runner=DataflowRunner .*--job_name=codemix-build$": "submits to Google Cloud",
    r"^gcloud dataflow jobs run ": "needs a Google Cloud project",
    r"^curl -fLO https://repo\.maven\.apache\.org/": "downloads a job server",
    r"^java -jar beam-runners-spark-3-job-server": "needs a Spark cluster at MASTER",
    r"--job_endpoint=MASTER:8099 ": "needs a Spark cluster at MASTER",
    r"--runner=SparkRunner .*--output_executable_path=": "needs Docker for the SDK image",
    r"^spark-submit ": "needs YARN or Kubernetes",
    r"^cat > executor-pod\.yaml": "a file for spark-submit on Kubernetes",
    r"--runner=FlinkRunner --flink_master=MASTER:8081 ": "needs a Flink cluster at MASTER",
}
"""Command pattern -> why no test runs it."""

BENCHMARK = re.compile(r"(?:^|&& )(?:\.venv/bin/)?python (bench/\w+\.py)(.*)$")
"""Benchmarks take minutes to hours: their scripts' options are checked against --help."""


def _claims(page: pathlib.Path, command: str) -> list[str]:
    found = [f"run here ({test})" for (name, pattern), test in RUN_HERE.items()
             if name == page.name and re.search(pattern, command)]
    found += [test for pattern, test in BY_TEST.items() if re.search(pattern, command)]
    found += [f"not run: {why}" for pattern, why in NOT_RUN.items()
              if re.search(pattern, command)]
    if BENCHMARK.search(command):
        found.append("benchmark: options parsed")
    return found


def test_every_command_is_claimed():
    unclaimed = [(page.name, command) for page in PAGES for command in commands(page)
                 if not _claims(page, command)]
    assert unclaimed == []
    assert sum(len(commands(page)) for page in PAGES) > 40  # the reader found them


def test_the_tests_named_for_commands_exist():
    for test in BY_TEST.values():
        for ref in test.split(" and "):
            if ref.startswith(".ci/"):
                assert "make test" in (REPO / ".ci" / "run").read_text()
                continue
            path, _, name = ref.partition("::")
            text = (REPO / path).read_text()
            assert not name or f"def {name}(" in text, ref


@pytest.mark.parametrize("command", sorted({c for p in PAGES for c in commands(p)
                                            if BENCHMARK.search(c)}))
def test_benchmark_commands_name_real_options(command):
    script, args = BENCHMARK.search(command).groups()
    # PYTHONPATH: this checkout's packages, as its own editable install would give them.
    result = subprocess.run([sys.executable, str(REPO / script), "--help"], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    for option in re.findall(r"(--[\w-]+)", args):
        assert option in result.stdout, (script, option)


def test_the_readme_quick_start_runs_as_written(tmp_path):
    """Every command of README.md's quick start, in order, in a fresh folder: the user's
    repository is a copy of some of the standard library."""
    quick = [c for c in commands(REPO / "README.md") if c.startswith("codemix ")]
    assert [c.split()[1] for c in quick] == ["init", "build", "build", "shards", "shards",
                                             "train", "report"]
    repo = tmp_path / "path" / "to" / "your" / "repo"
    repo.mkdir(parents=True)
    stdlib = pathlib.Path(os.__file__).parent
    for name in sorted(p.name for p in stdlib.glob("*.py"))[:40]:
        shutil.copy(stdlib / name, repo / name)
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "codemix").write_text(f"#!/bin/sh\nexec {sys.executable} -m codemix \"$@\"\n")
    (bin_dir / "codemix").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    for command in quick:
        result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, (command, result.stderr[-3000:])
    assert (tmp_path / "out" / "mine" / "report.html").is_file()
    assert (tmp_path / "out" / "mine" / "train" / "metrics.jsonl").is_file()
