"""Live progress of ``codemix build``: plain lines off a terminal, a redrawn block on one,
nothing with ``-q``; the counts are the stats' own."""

from __future__ import annotations

import json
import os
import pathlib
import pty
import subprocess
import sys

from corpus import make_corpus
from pipelines.progress import ProgressReporter, job_counts, metric_counts, render, tick
from pipelines.rates import RATES_MB_S

REPO = pathlib.Path(__file__).resolve().parents[2]


def _build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codemix", "build", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def _tiny(tmp_path: pathlib.Path) -> pathlib.Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("graphlib.py", "bisect.py"):
        (src / name).write_text((pathlib.Path(os.__file__).parent / name).read_text())
    config = tmp_path / "tiny.yaml"
    config.write_text(f"output: {tmp_path / 'out'}\ncomponents:\n  code:\n    kind: code\n"
                      f"    weight: 1.0\n    inputs: [{{url: {src}, format: folder}}]\n"
                      "tokenizer: {vocab_size: 512, sample_docs: 10}\n")
    return config


def test_render_shows_kept_rate_and_the_reading_eta():
    counts = {"listed/docs": 100, "units/docs": 25, "read/docs": 25, "read/bytes": 2_000_000,
              "clean/docs": 20, "clean/bytes": 1_500_000}
    lines = render(counts, elapsed=10.0)
    assert lines[0] == "progress 0m10s"
    assert lines[1].split() == ["read", "25", "docs", "2.0", "MB", "20", "kept", "2", "docs/s",
                                "25/100", "units,", "ETA", "0m30s"]
    assert lines[2].split()[:7] == ["clean", "20", "docs", "1.5", "MB", "0", "kept"]
    assert len(lines) == 3  # steps with nothing yet are not shown


def test_tokenizer_training_shows_its_time_and_an_eta_from_the_benchmarked_rate():
    sample = {"tokenizer/docs": 500, "tokenizer/bytes": int(RATES_MB_S["tokenizer"] * 60e6)}
    # A minute of work at the measured rate, started 10 s into a build now 25 s old.
    [_, line] = render(sample, elapsed=25.0, training_since=10.0)
    assert line.split() == ["tokenizer", "500", "docs", f"{sample['tokenizer/bytes'] / 1e6:.1f}",
                            "MB", "training", "0m15s,", "ETA", "0m45s"]
    # Slower than the rate: still training, with no ETA rather than a negative one.
    [_, line] = render(sample, elapsed=100.0, training_since=10.0)
    assert line.split()[-2:] == ["training", "1m30s"]
    [_, line] = render({**sample, "trained/docs": 1}, elapsed=100.0, training_since=10.0)
    assert line.split()[-1] == "trained"


def test_the_reporter_times_training_from_when_it_first_sees_the_sample():
    import io
    import time

    counts = {"read/docs": 3}
    stream = io.StringIO()
    reporter = ProgressReporter(stream, counts=lambda: dict(counts))
    reporter._show()
    assert "tokenizer" not in stream.getvalue()
    time.sleep(1.1)
    counts.update({"tokenizer/docs": 2, "tokenizer/bytes": int(RATES_MB_S["tokenizer"] * 1e8)})
    reporter._show()
    time.sleep(1.1)
    reporter._show()
    def times(line: str) -> tuple[int, int]:
        state = line.split("MB training ")[1]
        spent, eta = (int(m) * 60 + int(s) for m, s in (t.split("m") for t in
                                                   state.rstrip("s").split("s, ETA ")))
        return spent, eta

    first, second = (times(l) for l in stream.getvalue().splitlines()[1:])
    assert first == (0, 100)  # 1,060 MB at 10.6 MB/s, from the moment it was seen
    assert second[0] >= 1 and 98 <= sum(second) <= 100


def test_off_a_terminal_progress_is_plain_lines_whose_counts_are_the_stats(tmp_path):
    config = make_corpus(tmp_path)
    result = _build(str(config))
    assert result.returncode == 0, result.stderr
    assert "apitools" not in result.stderr and "WARNING:root" not in result.stderr
    progress = [l for l in result.stderr.splitlines() if l.startswith("progress ")]
    assert progress and "\x1b" not in result.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    last = {part.split()[0]: int(part.split()[1].replace(",", ""))
            for part in progress[-1].split(": ", 1)[1].split("; ")}
    for stage in ("clean", "filter", "redact", "decontam", "dedup", "parse", "tokenize"):
        assert last[stage] == sum(stats["stages"][stage]["in"].values()), stage
    # The read stage's "in" also counts what could not be read, and the pairs cut later.
    read = stats["stages"]["read"]
    assert last["read"] == (sum(read["in"].values()) - sum(read["dropped"].values())
                            - stats["components"]["pairs"]["in"])
    kept = sum(c["kept"] for c in stats["components"].values())
    dropped_at_tokenize = sum(stats["stages"]["tokenize"]["dropped"].values())
    assert last["encoded"] == kept + dropped_at_tokenize


def test_quiet_builds_show_no_progress(tmp_path):
    result = _build(str(_tiny(tmp_path)), "-q")
    assert result.returncode == 0, result.stderr
    assert "progress" not in result.stderr and result.stdout.startswith("built ")


def test_on_a_terminal_progress_is_a_block_redrawn_in_place(tmp_path):
    config = _tiny(tmp_path)
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "codemix", "build", str(config)], cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=600) == 0
    os.close(primary)
    text = b"".join(chunks).decode()
    lines = text.replace("\r", "").splitlines()
    # The last block: a heading line, then one line per step that saw documents.
    start = max(i for i, l in enumerate(lines) if "progress " in l)
    block = lines[start + 1:]
    steps = [l.split()[0] for l in block if l.startswith("  ")]
    assert steps[:3] == ["read", "clean", "filter"] and steps[-1] == "encoded"
    redraws = text.count("\x1b[J")
    assert redraws == text.count("progress ") - 1  # every block after the first redraws


def test_a_portable_job_reports_the_ticks_through_its_job_service():
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    def counted(text: str) -> str:
        tick("step", 1, len(text))
        return text

    options = PipelineOptions(["--runner=PortableRunner", "--job_endpoint=embed",
                               "--environment_type=LOOPBACK"])
    pipeline = beam.Pipeline(options=options)
    _ = pipeline | beam.Create(["ab", "cde", "f"]) | beam.Map(counted)
    result = pipeline.run()
    job = job_counts(result)
    result.wait_until_finish()
    assert job is not None
    assert job() == {"step/docs": 3, "step/bytes": 6}
    assert metric_counts(result.metrics()) == job()
