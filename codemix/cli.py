"""The ``codemix`` command.

    codemix build CONFIG.yaml [beam pipeline options]   build shards + manifest
    codemix train CONFIG.yaml [--nproc-per-node N] [--set key=value ...]
    codemix shards inspect PATH [--doc COMPONENT:INDEX] [--verify]
    codemix shards verify PATH                           every fault, named; exit 1 if any
    codemix shards export PATH --format megatron --out DIR

A user's error (missing file, bad YAML, unknown key or component, a manifest that does not
match its files) prints one line, ``codemix: error: ...``, and exits with status 2. Each
subcommand imports only what it needs, so ``codemix shards`` does not load torch or Beam.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

USAGE = """usage: codemix {build,train,shards} ...

  build CONFIG.yaml [beam options]   run the build pipeline (ingest, clean, dedup, parse,
                                     tokenize, shard); see `codemix build --help`
  train CONFIG.yaml [options]        train on a built manifest with FSDP2 under torchrun;
                                     see `codemix train --help`
  shards inspect PATH                summarise a manifest (or one shard) and decode
                                     documents; see `codemix shards inspect --help`
  shards verify PATH                 check hashes, counts, boundaries and token ids
  shards export PATH --format megatron --out DIR
                                     write <component>.bin/.idx for Megatron-LM
"""


def _build(argv: list[str]) -> int:
    from pipelines.clustering import ClusteringDidNotConverge
    from pipelines.config import ConfigError
    from pipelines.main import run
    from shards.manifest import ManifestError
    from tokenizer.load import TokenizerError

    # A graph that needs more clustering rounds than dedup.max_rounds is a setting to raise.
    return _guard(lambda: run(argv), (ConfigError, ManifestError, TokenizerError,
                                      ClusteringDidNotConverge))


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
    args = parser.parse_args(argv)
    from shards.manifest import ManifestError
    from training.config import ConfigError
    from training.launch import launch

    forwarded = [args.config] + [a for kv in args.set for a in ("--set", kv)]
    return _guard(lambda: launch(forwarded, args.nproc_per_node), (ConfigError, ManifestError))


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
    export.add_argument("--format", required=True, choices=["megatron"],
                        help="megatron: <component>.bin / .idx (Megatron-LM indexed dataset)")
    export.add_argument("--out", required=True, help="folder for the exported files")
    args = parser.parse_args(argv)
    from codemix.inspector import inspect_path
    from codemix.shard_tools import export_path, verify_path
    from shards.format import ShardError
    from shards.manifest import ManifestError
    from tokenizer.load import TokenizerError

    actions = {
        "inspect": lambda: inspect_path(args.path, doc=args.doc, verify=args.verify),
        "verify": lambda: verify_path(args.path),
        "export": lambda: export_path(args.path, args.format, args.out),
    }
    return _guard(actions[args.command], (ManifestError, ShardError, TokenizerError))


def _guard(action: Callable[[], int], user_errors: tuple[type[BaseException], ...]) -> int:
    try:
        return action()
    except user_errors as err:
        print(f"codemix: error: {err}", file=sys.stderr)
        return 2


COMMANDS = {"build": _build, "train": _train, "shards": _shards}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"codemix: error: unknown command {argv[0]!r} (choose from build, train, shards)",
              file=sys.stderr)
        return 2
    return command(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
