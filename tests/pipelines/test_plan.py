"""``codemix build CONFIG --plan``: every input listed and sized, the LSH setting, a time
estimate per stage, and nothing written."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from corpus import make_corpus
from pipelines.config import load_config
from pipelines.plan import stage_estimates
from pipelines.rates import RATES_MB_S

REPO = pathlib.Path(__file__).resolve().parents[2]


def _codemix(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codemix", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def _tree(root: pathlib.Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*") if not p.is_fifo()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> pathlib.Path:
    return make_corpus(tmp_path_factory.mktemp("plan"))


@pytest.mark.parametrize("flag", ["--plan", "--dry-run"])
def test_the_plan_lists_every_input_and_writes_nothing(corpus, flag):
    root = corpus.parent
    before = _tree(root)
    result = _codemix("build", str(corpus), flag)
    assert result.returncode == 0, result.stderr
    assert _tree(root) == before and not (root / "out").exists()
    assert "Unparseable" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "nothing was written"

    def line(label: str) -> str:
        found = [l for l in lines if l.startswith(f"  {label}:")]
        assert len(found) == 1, (label, result.stdout)
        return found[0]

    # Counted here independently of the sources' listing code.
    c_files = sorted((root / "code" / "c").rglob("*.c"))
    c_bytes = sum(p.stat().st_size for p in c_files)
    assert f": {len(c_files):,} files in {len(c_files):,} units, {c_bytes / 1e6:,.1f} MB" in line(
        "code-c / " + str(root / "code" / "c"))
    # The Stack's files; the one of another schema is dropped when listed.
    stack = [pq.ParquetFile(p) for p in sorted((root / "code" / "stack").glob("*.parquet"))]
    good = [f for f in stack if "content" in f.schema_arrow.names]
    assert len(good) == len(stack) - 1
    rows = sum(f.metadata.num_rows for f in good)
    assert line("code-python / the-stack").endswith(
        f": {len(good)} files in {len(good)} units, {rows:,} rows, 0.0 MB; "
        "listing drops wrong_schema 1")
    assert "size unknown" in line("code-python / gitrepo")
    assert line("pairs").endswith("pairs cut from code-python, code-c")
    assert "LSH 36 bands x 7 rows" in result.stdout
    assert "0.7: 0.955" in result.stdout  # the S-curve at the threshold (docs/dedup.md)
    for stage in RATES_MB_S:
        assert any(l.startswith(f"  {stage} ") for l in lines), stage


def test_a_plan_of_a_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("output: x\ncomponents: {c: {kind: code, weight: 1, inputs: "
                   "[{url: /nope, format: folderz}]}}\n")
    result = _codemix("build", str(bad), "--plan")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert [l for l in result.stderr.splitlines() if l.startswith("codemix")] == [
        l for l in result.stderr.splitlines() if l.strip()]


def test_estimates_parse_only_code_and_train_on_the_sample_only(corpus):
    config = load_config(str(corpus))
    got = {stage: (mb, s) for stage, mb, s in stage_estimates(
        config, {"code-python": 30_000_000, "code-c": 10_000_000, "text-docs": 60_000_000})}
    assert got["read"][0] == 100.0 and got["parse"][0] == 40.0
    cap = config.tokenizer.sample_docs * config.tokenizer.sample_chars / 1e6
    assert got["tokenizer"][0] == min(100.0, cap)
    assert got["parse"][1] == pytest.approx(40.0 / RATES_MB_S["parse"])
