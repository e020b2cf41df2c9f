"""The codemix command: help everywhere, and user errors as one line with status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chains import chained_corpus, write_chain_build


def _codemix(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codemix", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args", [["--help"], ["build", "--help"], ["train", "--help"],
                                  ["shards", "inspect", "--help"], ["report", "--help"]])
def test_help(args):
    result = _codemix(*args)
    assert result.returncode == 0 and "usage" in result.stdout.lower()


def _one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2
    lines = [l for l in result.stderr.splitlines() if l.startswith("codemix")]
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_is_one_line(tmp_path):
    _one_line_error(_codemix("build", str(tmp_path / "nope.yaml")), "no config at")


def test_report_of_a_folder_without_a_build_is_one_line(tmp_path):
    _one_line_error(_codemix("report", str(tmp_path)), f"no such file {tmp_path}/stats.json")


def test_unknown_key_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("output: x\nshards: {target_tokns: 5}\ncomponents: {}\n")
    _one_line_error(_codemix("build", str(bad)), "target_tokns")


def test_unknown_command_is_one_line():
    _one_line_error(_codemix("frobnicate"), "unknown command")


def test_missing_manifest_is_one_line(tmp_path):
    _one_line_error(_codemix("shards", "inspect", str(tmp_path)), "no manifest at")


def test_inspect_summarises_and_decodes(built_corpus):
    result = _codemix("shards", "inspect", str(built_corpus), "--verify", "--doc",
                      "code-c:0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "code-python" in out and "verified" in out and "#include <stdio.h>" in out
    _one_line_error(_codemix("shards", "inspect", str(built_corpus), "--doc", "nope:0"),
                    "component 'nope' is not in the manifest")


def test_clustering_that_does_not_converge_is_one_line_without_beams_traceback(tmp_path):
    config = write_chain_build(tmp_path, chained_corpus(0, chains=2, links=40), max_rounds=1)
    result = _codemix("build", str(config))
    _one_line_error(result, "connected components did not converge in 1 rounds")
    assert result.stderr.count("\n") == 1 and "ERROR" not in result.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
