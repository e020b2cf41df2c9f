"""The whole build on DirectRunner (one process) and on local Spark and Flink clusters with 1
and 2 workers, on one generated code corpus, in one run.

    .venv/bin/python bench/bench_runners.py [--mb 1024] [--engines spark,flink] [--workers 1,2]

The corpus is real code (the standard library's and site-packages' ``.py`` files), copied
until it reaches ``--mb``: each copy has a comment on every line that makes it a document
of its own for near dedup, and one copy in ten is planted as a near duplicate of another
(one line changed). Each run reports wall time, CPU seconds of every process that took part
(the build's own, and every process of the cluster: JVMs, worker pool, Python harnesses),
MB/s, MB per CPU-second, and the peak RSS of each process (VmHWM). Clusters are started
and stopped by ``scripts/local-cluster.sh``. Each run's output must be byte-identical to
DirectRunner's; a run that differs or fails is reported as such.
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from processes import Sampler, cluster_down, cluster_up  # noqa: E402

from pipelines.timing import reproducible_bytes  # noqa: E402


def real_code() -> list[str]:
    """The standard library's and site-packages' Python files, in a fixed order."""
    roots = [pathlib.Path(sysconfig.get_paths()["stdlib"]),
             pathlib.Path(sysconfig.get_paths()["purelib"])]
    texts = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if 2_000 <= len(text) <= 200_000:
                texts.append(text)
    return texts


def write_corpus(folder: pathlib.Path, megabytes: float, seed: int = 0) -> tuple[int, int]:
    """Copies of real code until ``megabytes``; returns (files, planted near duplicates)."""
    rng = random.Random(seed)
    texts = real_code()
    written = files = planted = 0
    previous: list[str] = []
    while written < megabytes * 1e6:
        copy = files // len(texts)
        text = texts[files % len(texts)]
        if previous and rng.random() < 0.1:
            lines = rng.choice(previous).splitlines(keepends=True)
            lines[rng.randrange(len(lines))] = f"# planted edit {files}\n"
            body = "".join(lines)
            planted += 1
        else:
            tag = hashlib.sha256(f"{seed}:{files}".encode()).hexdigest()[:8]
            body = "".join(f"{line.rstrip()}  # {tag}{copy}\n" if line.strip() else line
                           for line in text.splitlines(keepends=True))
            previous = (previous + [body])[-64:]
        path = folder / f"{files // 1000:04d}" / f"f{files:07d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        written += len(body.encode())
        files += 1
    return files, planted


def config(corpus: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    spec = {"output": str(out),
            "components": {"code-python": {"kind": "code", "weight": 1.0, "inputs": [
                {"url": str(corpus), "format": "folder", "include": ["**/*.py"]}]}},
            "tokenizer": {"vocab_size": 4096, "sample_docs": 2000},
            # Flink's batch planner cannot plan more unrolled rounds (README); the same
            # setting on every runner keeps the outputs comparable.
            "dedup": {"max_rounds": 8}}
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def build(cfg: pathlib.Path, options: list[str], sessions: set[int], timeout: float) -> dict:
    proc_args = [sys.executable, "-m", "codemix", "build", str(cfg), *options]
    start = time.monotonic()
    proc = subprocess.Popen(proc_args, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    sampler = Sampler(sessions | {proc.pid})
    sampler.start()
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        output = f"timed out after {timeout:.0f} s"
    wall = time.monotonic() - start
    sampler.stop()
    return {"ok": proc.returncode == 0, "wall": wall, "cpu": sampler.cpu_seconds(),
            "peaks": sampler.peaks(), "tail": output.strip().splitlines()[-1:] if output else []}


def digest(out: pathlib.Path) -> str:
    h = hashlib.sha256()
    for p in sorted(out.rglob("*")):
        rel = str(p.relative_to(out))
        data = reproducible_bytes(rel, p.read_bytes()) if p.is_file() else None
        if data is not None and p.name != "manifest.json":
            h.update(rel.encode())
            h.update(data)
    return h.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=1024.0, help="corpus size (default 1024)")
    parser.add_argument("--engines", default="spark,flink")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per build")
    parser.add_argument("--work", type=pathlib.Path, default=None,
                        help="folder for the corpus and outputs (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or pathlib.Path(tempfile.mkdtemp(prefix="bench-runners-"))
    corpus = work / "corpus"
    if not corpus.exists():
        files, planted = write_corpus(corpus, args.mb)
        print(f"corpus: {files} files, {planted} planted near duplicates, {args.mb:.0f} MB")
    megabytes = sum(p.stat().st_size for p in corpus.rglob("*.py")) / 1e6
    # One output path for every run, so that the manifests' config hashes agree too.
    out = work / "out"
    cfg = config(corpus, out)
    runs = [("direct", 1, [])]
    for engine in args.engines.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            runs.append((engine, workers, None))
    reference = None
    print(f"{'runner':<10}{'workers':>8}{'wall s':>9}{'CPU s':>9}{'MB/s':>8}{'MB/CPU-s':>10}"
          "  identical  peak RSS per process (MiB)")
    for engine, workers, options in runs:
        shutil.rmtree(out, ignore_errors=True)
        sessions: set[int] = set()
        if options is None:
            try:
                options, sessions = cluster_up(engine, workers)
            except RuntimeError as err:
                print(f"{engine:<10}{workers:>8}  cluster did not start: {err}")
                continue
        try:
            result = build(cfg, options, sessions, args.timeout)
        finally:
            if engine != "direct":
                cluster_down(engine)
        if not result["ok"]:
            print(f"{engine:<10}{workers:>8}  FAILED after {result['wall']:.0f}s: {result['tail']}")
            continue
        same = digest(out)
        reference = reference or same
        peaks = ", ".join(f"{n} {kib / 1024:.0f}" for n, kib in sorted(result["peaks"].items()))
        print(f"{engine:<10}{workers:>8}{result['wall']:>9.1f}{result['cpu']:>9.1f}"
              f"{megabytes / result['wall']:>8.2f}{megabytes / result['cpu']:>10.3f}"
              f"  {'yes' if same == reference else 'NO':<9}  {peaks}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
