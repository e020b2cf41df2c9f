"""CodeGen2's objective ablation on the demo corpus: clm, codegen2, fim and prefix_lm trained
for the same tokens, scored on the same held-out sequences.

    .venv/bin/python bench/ablate.py                         # after codemix build configs/demo.yaml
    .venv/bin/python bench/ablate.py --steps 600 --objectives clm fim

Each objective trains a fresh model with the demo's training config (``configs/demo-train.yaml``:
same model, seed, batch and steps, so the same number of tokens), through the real trainer
on one process, with ``training.eval_sequences`` held out of every component. Then, on the
held-out sequences (never trained on by any of the runs):

- **CLM loss**: the trainer's ``eval/<component>`` at the last step (plain next-token loss),
  averaged over the components;
- **FIM middle loss**: the code components' held-out sequences made into fill-in-the-middle
  samples (every document, PSM), loss on the middles only (each ``<fim_middle>`` up to its
  document's ``<|endoftext|>``): how well the model writes a middle given prefix and suffix;
- **span infill loss**: the same sequences span-corrupted in CodeGen2's format (every
  document), loss on the infill sections only (each ``<sep>`` up to the ``<|endoftext|>``
  after its last ``<eom>``).

- **HumanEval pass@1**: greedy completions of the first ``--humaneval`` problems (default
  all 164; 0 skips them), run in the sandbox (``training.benchmark``). The column is shown
  only where some model solved something: small models trained briefly score 0 throughout,
  and a column of zeros would only look like a measurement.

Every model is scored with causal attention (prefix_lm's too, as CodeGen2 samples from it).
The transforms of the held-out sequences are pure functions of (seed, index), so every model
sees the same infill samples. CodeGen2's lessons to look for: prefix-LM buys nothing over
causal LM; a mixture with infill (codegen2, fim) learns its infill format at little cost to
left-to-right loss.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from tokenizer.special_tokens import SpecialIds  # noqa: E402
from training.benchmark import humaneval  # noqa: E402
from training.checkpoint import checkpoint_path  # noqa: E402
from training.config import TrainConfig, load_config  # noqa: E402
from training.data.corpus import open_corpus  # noqa: E402
from training.data.holdout import Sequences, split  # noqa: E402
from training.generate import load_model  # noqa: E402
from training.metrics import sequence_losses  # noqa: E402
from training.objectives import IGNORE_INDEX, Example, transform  # noqa: E402
from training.train import main as train  # noqa: E402

OBJECTIVES = ("clm", "codegen2", "fim", "prefix_lm")
EVAL_SEED = 1234  # the infill samples' seed: the same for every model, not the training seed
FIM_EVAL = {"fim_rate": 1.0, "spm_rate": 0.0}  # every document, PSM
SPAN_EVAL = {"clm_probability": 0.0}  # every document corrupted
HUMANEVAL_TOKENS = 128  # most tokens per greedy completion


def section_targets(example: Example, open_id: int, close_id: int) -> np.ndarray:
    """``example``'s targets inside sections, ``IGNORE_INDEX`` elsewhere: a section starts
    after an ``open_id`` input and ends with the ``close_id`` target that follows it.

    Args:
        example: one transformed sequence.
        open_id: the token that opens a section (``<fim_middle>``, ``<sep>``).
        close_id: the token that closes it (``<|endoftext|>``).

    Returns:
        int64 ``[seq_len]`` targets.
    """
    positions = np.arange(len(example.inputs))
    last_open = np.maximum.accumulate(np.where(example.inputs == open_id, positions, -1))
    last_close = np.maximum.accumulate(np.where(example.inputs == close_id, positions, -1))
    return np.where(last_open > last_close, example.targets, IGNORE_INDEX)


@torch.no_grad()
def infill_loss(model: torch.nn.Module, tok: Tokenizer, specials: SpecialIds,
                sequences: list[Sequences], objective: str, options: dict[str, float],
                open_id: int, batch_size: int = 16) -> float:
    """Mean loss per token of the infill sections of ``sequences`` made into ``objective``
    samples.

    Args:
        model: the model, in eval mode.
        tok: the corpus's tokenizer.
        specials: its special ids.
        sequences: held-out sequences (one part per component); all are scored.
        objective: ``fim`` or ``codegen2``.
        options: that objective's settings for evaluation (``FIM_EVAL``, ``SPAN_EVAL``).
        open_id: the token a section starts after (``<fim_middle>``, ``<sep>``); it ends
            with ``<|endoftext|>``.
        batch_size: sequences per forward.
    """
    examples = []
    for part in sequences:
        for i in range(len(part)):
            seq = part[i]  # tokens the build marked as taking no loss (no_loss) take none here
            examples.append(transform(objective, seq.tokens, seed=EVAL_SEED, index=i,
                                      tokenizer=tok, specials=specials, options=options,
                                      no_loss=seq.no_loss))
    total, count = 0.0, 0
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        inputs = torch.from_numpy(np.stack([e.inputs for e in chunk]))
        targets = torch.from_numpy(np.stack([section_targets(e, open_id, specials.eot)
                                             for e in chunk]))
        total += float(sequence_losses(model(inputs), targets).sum())
        count += int((targets != IGNORE_INDEX).sum())
    return total / count


def run(objective: str, args: argparse.Namespace) -> TrainConfig:
    """Train one model with ``objective``; returns its config."""
    overrides = [f"training.objective={objective}", f"training.steps={args.steps}",
                 f"training.eval_sequences={args.eval_sequences}", "training.eval_every=0",
                 f"training.output_dir={os.path.join(args.output, objective)}",
                 f"training.log_every={max(1, args.steps // 4)}",
                 f"data.manifest={args.manifest}"]
    argv = [args.config] + [x for o in overrides for x in ("--set", o)]
    if train(argv) != 0:
        raise SystemExit(f"training with {objective} failed")
    return load_config(args.config, overrides)


def score(cfg: TrainConfig, problems: list[humaneval.Problem]) -> dict[str, float]:
    """The three held-out losses of the model ``cfg`` trained, and its greedy pass@1 on
    ``problems`` (under ``"pass@1"``, only if there are any)."""
    with open(os.path.join(cfg.training.output_dir, "metrics.jsonl"), encoding="utf-8") as f:
        last = json.loads(f.readlines()[-1])
    clm = [v for k, v in last.items() if k.startswith("eval/")]
    final = checkpoint_path(cfg.training.checkpoint_folder, cfg.training.steps)
    model, tok, specials = load_model(final, cfg, torch.device("cpu"))
    corpus = open_corpus(cfg.data.manifest, verify=False)
    _, heldout = split(corpus.packed(cfg.data.seq_len), cfg.training.eval_sequences)
    code = [heldout[c.name] for c in corpus.manifest.components if c.kind == "code"]
    row = {"clm": sum(clm) / len(clm),
           "fim": infill_loss(model, tok, specials, code, "fim", FIM_EVAL,
                              specials.fim_middle),
           "span": infill_loss(model, tok, specials, code, "codegen2", SPAN_EVAL,
                               specials.sep)}
    if problems:
        completions = humaneval.complete(model, tok, specials, problems, n=1,
                                         temperature=0.0, seed=0,
                                         max_new_tokens=HUMANEVAL_TOKENS)
        outcomes = humaneval.score(problems, completions)
        row["pass@1"] = humaneval.report(problems, completions, outcomes, [1])["pass@k"]["1"]
    return row


def table(rows: dict[str, dict[str, float]]) -> list[str]:
    """The results as a Markdown table, with a HumanEval pass@1 column only where some model
    passed a problem, else a line saying it was all zeros."""
    passes = any(r.get("pass@1", 0.0) > 0 for r in rows.values())
    lines = ["| objective | CLM loss | FIM middle loss | span infill loss |"
             + (" HumanEval pass@1 |" if passes else ""),
             "|---|---:|---:|---:|" + ("---:|" if passes else "")]
    for objective, r in rows.items():
        lines.append(f"| {objective} | {r['clm']:.3f} | {r['fim']:.3f} | {r['span']:.3f} |"
                     + (f" {r['pass@1']:.3f} |" if passes else ""))
    if not passes and any("pass@1" in r for r in rows.values()):
        lines.append("HumanEval pass@1 is 0 for every model (column left out).")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "demo-train.yaml"))
    parser.add_argument("--manifest", default=str(ROOT / "out" / "demo" / "manifest.json"))
    parser.add_argument("--output", default=str(ROOT / "out" / "ablate"))
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per model")
    parser.add_argument("--eval-sequences", type=int, default=32,
                        help="held-out sequences per component")
    parser.add_argument("--objectives", nargs="+", choices=OBJECTIVES, default=OBJECTIVES)
    parser.add_argument("--humaneval", type=int, default=164,
                        help="HumanEval problems for greedy pass@1 (default all 164; 0 skips)")
    args = parser.parse_args(argv)
    problems = humaneval.load_problems(args.humaneval) if args.humaneval > 0 else []
    rows = {objective: score(run(objective, args), problems) for objective in args.objectives}
    cfg = load_config(args.config)
    tokens = args.steps * cfg.data.global_batch_size * cfg.data.seq_len
    print(f"\n{args.steps} steps x {cfg.data.global_batch_size} x {cfg.data.seq_len} = "
          f"{tokens:,} tokens per model; held-out losses (nats per token):")
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
