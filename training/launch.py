"""Start a training run from the CLI: check inputs once, then hand over to torchrun.

``codemix train CONFIG --nproc-per-node N`` calls ``launch``. A mistake in the config or
the corpus is found here, in one process, and raised as one ``ConfigError`` or
``ManifestError`` line, instead of as N worker tracebacks. A run that resumes has its
checkpoint's trainer state checked here too (manifest, mixture, seed, global batch size).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile

from training import checkpoint
from training.config import ConfigError, TrainConfig, load_config, parse_argv
from training.data.corpus import open_corpus
from training.data.holdout import split
from training.data.loader import rank_slice
from training.metrics import METRICS_NAME, TENSORBOARD_DIR
from training.stopping import STOP_FILE_ENV


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


def _previous_run(cfg: TrainConfig) -> str | None:
    """What of an earlier run ``cfg``'s output folders hold, in words; None for nothing."""
    found = []
    if os.path.exists(os.path.join(cfg.training.output_dir, METRICS_NAME)):
        found.append(METRICS_NAME)
    latest = checkpoint.latest(cfg.training.checkpoint_folder)
    if latest:
        found.append(f"checkpoints up to {os.path.basename(latest)}")
    return ", ".join(found) or None


def continuation(argv: list[str], *, resume: bool, overwrite: bool) -> tuple[list[str], bool]:
    """How to start a run whose output folder may hold an earlier one.

    Args:
        argv: the trainer's arguments, ``[CONFIG.yaml, --set, key=value, ...]``.
        resume: continue the earlier run from its newest checkpoint (unless the config
            names ``training.resume_from`` itself).
        overwrite: start again; the caller then removes the earlier run (``clear``).

    Returns:
        The arguments to train with, and whether the earlier run must be cleared first.

    Raises:
        ConfigError: the folder holds a run and neither flag was given, or ``resume``
            finds no checkpoint, or both flags were given.
    """
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    args = parse_argv(argv)
    cfg = load_config(args.config, args.overrides)
    if cfg.training.resume_from:
        return argv, False
    if resume:
        latest = checkpoint.latest(cfg.training.checkpoint_folder)
        if latest is None:
            raise ConfigError(f"--resume: no checkpoint in {cfg.training.checkpoint_folder} "
                              "to resume from")
        return [*argv, "--set", f"training.resume_from={latest}"], False
    previous = _previous_run(cfg)
    if previous and not overwrite:
        raise ConfigError(f"training.output_dir {cfg.training.output_dir} already holds a run "
                          f"({previous}); pass --resume to continue it or --overwrite to "
                          "start again")
    return argv, bool(previous)


def clear(cfg: TrainConfig) -> None:
    """Remove an earlier run's metrics, TensorBoard events and checkpoints."""
    folders = (cfg.training.checkpoint_folder,
               os.path.join(cfg.training.output_dir, TENSORBOARD_DIR))
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(cfg.training.output_dir, METRICS_NAME))


def launch(argv: list[str], nproc_per_node: int, *, resume: bool = False,
           overwrite: bool = False) -> int:
    """Check a run, then train it with ``nproc_per_node`` processes on this machine.

    Args:
        argv: the trainer's arguments, ``[CONFIG.yaml, --set, key=value, ...]``.
        nproc_per_node: worker processes (one per GPU, or CPU processes with gloo).
        resume, overwrite: what to do with an earlier run in the output folder
            (``continuation``); without either, such a run is refused.

    Returns:
        torchrun's exit status (0 when every worker succeeded).

    Raises:
        ConfigError, ManifestError: see ``check`` and ``continuation``; nothing has been
            started or removed then.
        KeyboardInterrupt: this process was interrupted (SIGINT, SIGTERM as the CLI turns
            it); the workers were asked to stop (``training.stopping``) and have written
            their checkpoint, which the message names. A second interrupt while they
            finish their step has torchrun end them.
    """
    argv, start_again = continuation(argv, resume=resume, overwrite=overwrite)
    cfg = check(argv, nproc_per_node)
    if start_again:
        clear(cfg)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", str(nproc_per_node), "-m", "training.train", *argv]
    # Said now: torch's import, packing and the model's build take seconds before step 1.
    print(f"checked {argv[0]} and its manifest; starting {nproc_per_node} training "
          "process(es) (loading torch, packing sequences, building the model)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        stop_file = os.path.join(tmp, "stop")
        # A session of their own: the terminal's Ctrl-C reaches only this process, which
        # asks the workers to stop, instead of torchrun, which would tear them down.
        proc = subprocess.Popen(cmd, env={**os.environ, STOP_FILE_ENV: stop_file},
                                start_new_session=True)
        try:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                open(stop_file, "w").close()
                proc.wait()
        except KeyboardInterrupt:
            # torchrun gives each worker a session of its own: only torchrun can end them
            # (SIGTERM, then SIGKILL after its timeout).
            proc.terminate()
            proc.wait()
            raise KeyboardInterrupt("the workers were stopped before their checkpoint "
                                    "was complete") from None
    latest = checkpoint.latest(cfg.training.checkpoint_folder)
    raise KeyboardInterrupt(
        f"checkpoint {latest}; resume with --set training.resume_from={latest}"
        if latest else "no step was completed, no checkpoint written")
