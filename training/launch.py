"""Start a training run from the CLI: check inputs once, then hand over to torchrun.

``codemix train CONFIG --nproc-per-node N`` calls ``launch``. A mistake in the config or
the corpus is found here, in one process, and raised as one ``ConfigError`` or
``ManifestError`` line, instead of as N worker tracebacks. A run that resumes has its
checkpoint's trainer state checked here too (manifest, mixture, seed, global batch size).
"""

from __future__ import annotations

import subprocess
import sys

from training import checkpoint
from training.config import ConfigError, TrainConfig, load_config, parse_argv
from training.data.corpus import open_corpus
from training.data.holdout import split
from training.data.loader import rank_slice


def check(argv: list[str], nproc_per_node: int) -> TrainConfig:
    """Validate a run without starting it.

    Args:
        argv: the trainer's arguments, ``[CONFIG.yaml, --set, key=value, ...]``.
        nproc_per_node: processes to start; must divide the global batch size.

    Returns:
        The loaded config.

    Raises:
        ConfigError: bad arguments, config (an objective for a component the manifest
            lacks), process count, or resume checkpoint.
        ManifestError: the manifest is missing, does not match its files, its tokenizer
            lacks a special token an objective needs, or its mixture is impossible.
    """
    args = parse_argv(argv)
    cfg = load_config(args.config, args.overrides)
    if nproc_per_node < 1:
        raise ConfigError(f"--nproc-per-node must be at least 1, got {nproc_per_node}")
    rank_slice(0, cfg.data.global_batch_size, 0, nproc_per_node)
    corpus = open_corpus(cfg.data.manifest)
    objectives = cfg.training.objectives_for(corpus.names)
    corpus.specials_for(sorted(set(objectives.values())))
    train, _ = split(corpus.packed(cfg.data.seq_len), cfg.training.eval_sequences)
    plan = corpus.mixture(train)
    if cfg.training.resume_from:
        saved = checkpoint.read_state(cfg.training.resume_from, no_dist=True)
        saved.check_matches(checkpoint.TrainerState(
            step=0, seed=cfg.data.seed, global_batch_size=cfg.data.global_batch_size,
            manifest_sha256=corpus.sha256, mixture_sha256=plan.sha256(), data={}),
            cfg.training.resume_from)
    return cfg


def launch(argv: list[str], nproc_per_node: int) -> int:
    """Check a run, then train it with ``nproc_per_node`` processes on this machine.

    Args:
        argv: the trainer's arguments, ``[CONFIG.yaml, --set, key=value, ...]``.
        nproc_per_node: worker processes (one per GPU, or CPU processes with gloo).

    Returns:
        torchrun's exit status (0 when every worker succeeded).

    Raises:
        ConfigError, ManifestError: see ``check``; nothing has been started then.
    """
    check(argv, nproc_per_node)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", str(nproc_per_node), "-m", "training.train", *argv]
    # Said now: torch's import, packing and the model's build take seconds before step 1.
    print(f"checked {argv[0]} and its manifest; starting {nproc_per_node} training "
          "process(es) (loading torch, packing sequences, building the model)", flush=True)
    return subprocess.call(cmd)
