"""Where a build's time goes: each stage's pure function in a plain loop, and the whole
build through Beam, on the same corpus in the same run.

    .venv/bin/python bench/bench_build.py [CONFIG.yaml] [--max-docs N]

For every stage it reports documents/s and MB/s of the stage's own function called in a
plain Python loop (the reference a user would write without a pipeline framework), then
runs the real build on DirectRunner and reports its wall time as a ratio to the summed
plain-loop time: the cost of Beam's bundling, serialisation and shuffles on one machine.
Absolute times drift on shared machines; the ratios are what to compare across runs.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timing import timed  # noqa: E402

from pipelines import sources  # noqa: E402
from pipelines.accounting import Drop  # noqa: E402
from pipelines.clean import clean  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.deduplicate import fingerprints  # noqa: E402
from pipelines.filters import quality_verdict  # noqa: E402
from pipelines.parse import Parsers  # noqa: E402
from tokenizer.encode import encode_batch  # noqa: E402
from tokenizer.train import train_bpe  # noqa: E402



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", nargs="?", default=str(ROOT / "configs" / "demo.yaml"))
    args = parser.parse_args()
    config = load_config(args.config)

    def read_all():
        out = []
        for comp in config.components:
            for spec in comp.inputs:
                out += [r for r in sources.read_input(spec, comp) if not isinstance(r, Drop)]
        return out

    raw, t_read = timed(read_all)
    specs = {c.name: c for c in config.components}
    records = [r for r in (clean(r, specs[r.component].clean) for r in raw)
               if not isinstance(r, Drop)]
    mb = sum(len(r.text.encode()) for r in records) / 1e6
    raw_mb = sum(len(r.text.encode()) for r in raw) / 1e6

    rows = []
    _, t = timed(lambda: [clean(r, specs[r.component].clean) for r in records])
    rows.append(("clean", len(records), t))
    _, t = timed(lambda: [quality_verdict(r, specs[r.component].filters) for r in records])
    rows.append(("filter", len(records), t))
    spec = config.dedup
    # As the pipeline fingerprints: batches through the batched MinHash kernel.
    _, t = timed(lambda: [fingerprints(records[i:i + 256], spec)
                           for i in range(0, len(records), 256)])
    rows.append(("dedup fingerprints (MinHash)", len(records), t))
    parsers = Parsers()
    code = [r for r in records if r.kind == "code"]
    _, t = timed(lambda: [parsers.analyze(r.text, r.lang) for r in code])
    rows.append(("tree-sitter parse", len(code), t))
    tok_spec = config.tokenizer
    sample = [r.text[:tok_spec.sample_chars] for r in records[:tok_spec.sample_docs]]
    tok, t = timed(lambda: train_bpe(sample, tok_spec.vocab_size, tok_spec.min_frequency))
    rows.append(("tokenizer training (sample)", len(sample), t))
    _, t = timed(lambda: [encode_batch(tok, [r.text for r in records[i:i + 256]])
                           for i in range(0, len(records), 256)])
    rows.append(("encode (tokenizers)", len(records), t))
    plain_total = t_read + sum(r[2] for r in rows)

    from pipelines.main import run

    with tempfile.TemporaryDirectory() as tmp:
        out_config = pathlib.Path(tmp) / "bench.yaml"
        import yaml

        spec = yaml.safe_load(pathlib.Path(args.config).read_text())
        spec["output"] = str(pathlib.Path(tmp) / "out")
        out_config.write_text(yaml.safe_dump(spec))
        _, t_beam = timed(lambda: run([str(out_config)]))

    print(f"\ncorpus: {len(records)} documents after cleaning, {mb:.1f} MB "
          f"({args.config})\n")
    print(f"{'stage (plain loop)':<30} {'docs':>7} {'seconds':>8} {'docs/s':>9} {'MB/s':>7}")
    print(f"{'read (list + decode)':<30} {len(raw):>7} {t_read:>8.2f} {len(raw) / t_read:>9.0f} "
          f"{raw_mb / t_read:>7.2f}")
    for name, n, t in rows:
        print(f"{name:<30} {n:>7} {t:>8.2f} {n / t:>9.0f} {mb * n / len(records) / t:>7.2f}")
    print(f"{'sum of stages':<30} {'':>7} {plain_total:>8.2f}")
    print(f"\nBeam DirectRunner, whole build: {t_beam:.1f} s = "
          f"{t_beam / plain_total:.2f}x the plain-loop sum")
    return 0


if __name__ == "__main__":
    sys.exit(main())
