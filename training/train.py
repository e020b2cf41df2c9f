"""Train a codemix model on a built corpus (manifest.json + shards).

Run it under torchrun, one process per device (CPU processes use gloo, GPUs NCCL)::

    torchrun --standalone --nproc_per_node 2 -m training.train configs/demo-train.yaml
    torchrun --standalone --nproc_per_node 2 -m training.train configs/demo-train.yaml \\
        --set training.steps=20 --set optim.lr=1e-3

or as ``codemix train configs/demo-train.yaml --nproc-per-node 2`` (``training.launch``),
which checks the config and manifest first. Started without torchrun (no ``RANK`` in the
environment), it trains as a single process. Metrics go to ``<output_dir>/metrics.jsonl``,
the final checkpoint to ``<checkpoint_dir>/step-NNNNNN``. SIGINT or SIGTERM stops every
rank after the step in progress and writes that checkpoint (``training.stopping``).
"""

from __future__ import annotations

import dataclasses
import faulthandler
import functools
import os
import socket
import sys
from typing import NoReturn

import torch
import torch.distributed as dist

from shards import ManifestError
from shards.manifest import resolve
from tokenizer.load import load_tokenizer
from training import checkpoint
from training.config import (ConfigError, TrainConfig, config_to_dict, load_config,
                             parse_argv)
from training.data.corpus import open_corpus
from training.data.holdout import split
from training.data.loader import MixtureLoader
from training.data.sampler import MixtureSampler
from training.evaluate import evaluate
from training.flops import flops_per_token
from training.metrics import MetricsLog
from training.model import ModelArgs, Transformer, freeze
from training.objectives import TOKENIZER_OBJECTIVES
from training.parallelize import (device_mesh, materialize, parallelize, resolve_compile,
                                  resolve_dtype)
from training.pretrained import load_pretrained
from training.stopping import StopRequest
from training.trainer import build_optimizer, train_loop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed() -> torch.device:
    """Join torchrun's process group, or form a 1-process group when not under torchrun."""
    cuda = torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if "RANK" in os.environ:
        dist.init_process_group(backend)
    else:
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{_free_port()}",
                                rank=0, world_size=1)
    return torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")


def build_model(cfg: TrainConfig, *, vocab_size: int, device: torch.device,
                world: int) -> tuple[Transformer, float]:
    """The model of ``cfg``, parallelised (``training.parallelize``) and initialised from
    ``data.seed``, with ``training.freeze``'s parts frozen, and its training FLOPs per
    token (``training.flops``); collective.

    Args:
        cfg: the run's config (model, data.seq_len, data.seed and the training section's
            meta_init, dtype, activation_checkpointing and compile are used).
        vocab_size: the tokenizer's vocabulary size (the manifest's).
        device: this rank's device.
        world: number of ranks (the data-parallel mesh).
    """
    args = ModelArgs.from_config(cfg.model, vocab_size=vocab_size, seq_len=cfg.data.seq_len,
                                 embedding_dim=cfg.embedding_dim)
    if cfg.training.meta_init:  # no storage until sharded (``materialize``)
        with torch.device("meta"):
            model = Transformer(args)
    else:  # the same initial weights on every rank, and as ``materialize`` gives
        model = Transformer(args)
        model.init_weights(seed=cfg.data.seed)
        model.to(device)
    work = flops_per_token(params=sum(p.numel() for p in model.parameters()),
                           embedding_params=sum(m.weight.numel() for m in model.modules()
                                                if isinstance(m, torch.nn.Embedding)),
                           n_layers=cfg.model.n_layers + cfg.model.encoder_layers,
                           dim=cfg.model.dim,
                           seq_len=cfg.data.seq_len)
    freeze(model, cfg.training.freeze)  # NOTE: before sharding, which keeps requires_grad
    parallelize(model, device_mesh(world),
                param_dtype=resolve_dtype(cfg.training.dtype, device),
                activation_checkpointing=cfg.training.activation_checkpointing,
                compile=resolve_compile(cfg.training.compile, device))
    if cfg.training.meta_init:
        materialize(model, device, seed=cfg.data.seed)
    return model, work


def run(cfg: TrainConfig, device: torch.device, stop: StopRequest) -> None:
    """Build everything from ``cfg``, train until the last step or until ``stop`` is
    asked, and write the final checkpoint."""
    rank, world = dist.get_rank(), dist.get_world_size()
    # Every rank verifies the manifest itself: all ranks then fail (or not) together,
    # instead of some waiting forever in a collective.
    corpus = open_corpus(cfg.data.manifest)
    objectives = cfg.training.objectives_for(corpus.names)
    train, heldout = split(corpus.packed(cfg.data.seq_len), cfg.training.eval_sequences)
    plan = corpus.mixture(train)
    # Read only when needed; its sha256 was checked with the manifest.
    tokenizer = (load_tokenizer(resolve(corpus.url, corpus.manifest.tokenizer.path))
                 if TOKENIZER_OBJECTIVES & set(objectives.values()) else None)
    loader = MixtureLoader(MixtureSampler(plan, cfg.data.seed), train,
                           global_batch_size=cfg.data.global_batch_size, rank=rank,
                           world_size=world, objectives=objectives, tokenizer=tokenizer,
                           options={name: cfg.objectives.options(name)
                                    for name in set(objectives.values())},
                           specials=corpus.specials_for(sorted(set(objectives.values()))),
                           encoder_decoder=cfg.model.encoder_decoder)

    model, work = build_model(cfg, vocab_size=corpus.vocab_size, device=device, world=world)
    optimizer = build_optimizer(model, cfg.optim)
    accum = cfg.data.accumulation_steps

    def state(step: int) -> checkpoint.TrainerState:
        return checkpoint.TrainerState(
            step=step, seed=cfg.data.seed, global_batch_size=cfg.data.global_batch_size,
            manifest_sha256=corpus.sha256, mixture_sha256=plan.sha256(),
            data=loader.state_dict())

    manifest = os.path.abspath(corpus.url) if "://" not in corpus.url else corpus.url
    run_file = {"config": config_to_dict(dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, manifest=manifest))),
        "manifest": manifest, "manifest_sha256": corpus.sha256}

    def save(step: int) -> None:
        checkpoint.save(checkpoint.checkpoint_path(cfg.training.checkpoint_folder, step),
                        model, optimizer, state(step), run_file)
        if rank == 0:  # the save is complete on every rank once it returns
            checkpoint.prune(cfg.training.checkpoint_folder, cfg.training.keep_checkpoints)

    resume = cfg.training.resume_from
    if resume:
        saved = checkpoint.load(resume, model, optimizer, expected=state(0))
        loader.load_state_dict(saved.data)
        if loader.step != saved.step * accum:  # the loader counts micro-batches
            per_step = saved.data["step"] // max(1, saved.step)
            raise checkpoint.CheckpointError(
                f"checkpoint {resume} was written with {per_step} micro-batches per step, "
                f"this run has {accum}; refusing to resume")
    else:  # a fresh run starts from the decoder-only checkpoints it names, if any
        load_pretrained(model, cfg.model, tokenizer_sha256=corpus.manifest.tokenizer.sha256)
    held = sum(len(part) for part in heldout.values())
    if rank == 0:
        print(f"training on {corpus.url} ({len(plan.names)} components, "
              f"{plan.epoch_size} samples per mixture epoch, {held} sequences held out), "
              f"world size {world}, from step {loader.step // accum} to "
              f"{cfg.training.steps}", flush=True)
    evaluation = functools.partial(
        evaluate, model, heldout, loader=loader, device=device, rank=rank, world_size=world,
        batch_size=cfg.data.global_batch_size // world,
        document_mask=cfg.training.document_mask) if held else None
    log = MetricsLog(cfg.training.output_dir, append=bool(resume), enabled=rank == 0,
                     tensorboard=cfg.training.tensorboard)
    start = loader.step // accum
    try:
        train_loop(cfg, model=model, optimizer=optimizer, loader=loader, device=device,
                   log=log, checkpoint=save, flops_per_token=work, evaluate=evaluation,
                   stop=stop.asked)
    finally:
        log.close()
    end = loader.step // accum
    if end > start:  # also when asked to stop: the run resumes from here
        save(end)
    if rank == 0 and log.losses:
        how = "done" if end == cfg.training.steps else f"stopped as asked at step {end}"
        print(f"{how}: loss {log.losses[0]:.3f} -> {log.losses[-1]:.3f} over steps "
              f"{start + 1}..{end}; metrics {log.path}; checkpoint "
              f"{checkpoint.checkpoint_path(cfg.training.checkpoint_folder, end)}",
              flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``CONFIG.yaml [--set key=value ...]``; returns the exit status."""
    try:
        args = parse_argv(argv)
        cfg = load_config(args.config, args.overrides)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    device = init_distributed()
    try:
        with StopRequest.from_environment(device) as stop:
            run(cfg, device, stop)
        # NOTE: every rank must be past its last collective (the final checkpoint) before
        # any rank tears the process group down; otherwise gloo can abort a rank at exit.
        dist.barrier()
        return 0
    except (ConfigError, ManifestError) as err:
        # Every rank hits the same error; one line from rank 0 is enough.
        if dist.get_rank() == 0:
            print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        dist.destroy_process_group()


def exit_after_teardown(code: int) -> NoReturn:
    """End a process that has destroyed its process group, skipping the interpreter's teardown.

    Under load, gloo's native threads can abort a finished rank during interpreter shutdown
    (SIGABRT, "terminate called without an active exception", no Python frame left), which
    torchrun reports as a failed run. Everything this process wrote is closed by now (metrics
    per line, checkpoints synchronously), so flushing stdio and leaving at once loses nothing.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    faulthandler.enable()  # a rank that dies on a signal shows where, not just its exit code
    exit_after_teardown(main())
