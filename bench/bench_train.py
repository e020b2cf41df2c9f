"""Trainer step time against a bare PyTorch loop of the same model, in one run.

    .venv/bin/python bench/bench_train.py                   # CPU: a small model, fp32
    python bench/bench_train.py --preset 1b                 # CUDA: issue 7's 1B config
    python bench/bench_train.py --preset 1b --layers 4      # any size flag overrides

The trainer side is the real path: ``training.train.build_model`` (meta init, activation
checkpointing, compile per block, FSDP2 in a 1-process group: gloo on the CPU, NCCL on
CUDA), ``build_optimizer`` and ``train_loop`` reading batches through ``MixtureLoader``
from shards on disk. The bare loop is what a user would write without it: the same
``Transformer`` on one device, ``torch.optim.AdamW`` (fused on CUDA), plain cross entropy,
gradient clipping, bf16 by autocast on CUDA, the same blocks compiled, and one fixed batch
(no data loading). Tokens are synthetic (uniform random ids, documents of random length)
and written as real shards in a temporary folder, so this needs only torch, numpy, pyyaml,
tokenizers and fsspec: no Beam, no zstandard, no built corpus.

Each round builds one side, runs ``--warmup`` steps (compilation, allocator), then times
``--steps`` steps and frees it; sides alternate for ``--rounds`` rounds and the fastest
round of each counts (the least disturbed by other work on a shared machine). Prints step
time, tokens/s and MFU (on a known accelerator) of both, and their ratio.

With ``--encoder-layers E`` both sides are the trainer on an encoder-decoder of ``E``
encoder blocks over the ``--layers`` decoder blocks (``t5_span``), CodeT5+'s
compute-efficient comparison: all of it training, against ``training.freeze: [decoder]``
(only the encoder, the cross-attention and the heads train)::

    .venv/bin/python bench/bench_train.py --encoder-layers 1
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import os
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timing import timed  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from shards import Shard, dtype_for_vocab, write_shard  # noqa: E402
from tokenizer.special_tokens import SPECIAL_TOKENS  # noqa: E402
from training.config import (DataConfig, ModelConfig, OptimConfig, TrainConfig,  # noqa: E402
                             TrainingConfig)
from training.data.loader import Batch, MixtureLoader  # noqa: E402
from training.data.packing import PackedComponent  # noqa: E402
from training.data.sampler import ComponentSpec, MixtureSampler, plan_mixture  # noqa: E402
from training.flops import flops_per_token, peak_flops  # noqa: E402
from training.metrics import MetricsLog  # noqa: E402
from training.model import ModelArgs, Transformer, swiglu_hidden  # noqa: E402
from training.parallelize import resolve_compile, resolve_dtype  # noqa: E402
from training.train import build_model, exit_after_teardown, init_distributed  # noqa: E402
from training.trainer import build_optimizer, train_loop  # noqa: E402

PRESETS = {
    "cpu": {"dim": 256, "layers": 4, "heads": 4, "seq_len": 256, "batch": 8, "vocab": 8192,
            "steps": 10, "warmup": 3, "rounds": 5},
    # Issue 7's 1B config: SwiGLU 8/3 rounded up to 5632, vocabulary 51,200 (the default
    # tokenizer's).
    "1b": {"dim": 2048, "layers": 20, "heads": 16, "seq_len": 2048, "batch": 8,
           "vocab": 51200, "steps": 20, "warmup": 5, "rounds": 1},
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="sizes to start from (default: 1b on CUDA, cpu otherwise)")
    for flag in ("dim", "layers", "heads", "seq-len", "batch", "vocab", "steps", "warmup",
                 "rounds"):
        parser.add_argument(f"--{flag}", type=int, help="overrides the preset")
    parser.add_argument("--mlp-ratio", type=float, default=8 / 3,
                        help="SwiGLU width / dim before rounding up to a multiple of 256")
    parser.add_argument("--compile", choices=("auto", "true", "false"), default="auto",
                        help="compile each block, both sides (auto: on CUDA only)")
    parser.add_argument("--activation-checkpointing", choices=("none", "selective", "full"),
                        default="none", help="trainer side only")
    parser.add_argument("--encoder-layers", type=int, default=0,
                        help="compare an encoder-decoder with this many encoder blocks, "
                             "decoder frozen or not (default 0: trainer against bare loop)")
    args = parser.parse_args(argv)
    preset = PRESETS[args.preset or ("1b" if torch.cuda.is_available() else "cpu")]
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def _config(args: argparse.Namespace, output_dir: str,
            freeze: tuple[str, ...] = ()) -> TrainConfig:
    """The benchmark's run; an encoder-decoder (``t5_span``) with ``--encoder-layers``,
    ``freeze`` its ``training.freeze``."""
    compile_ = {"auto": "auto", "true": True, "false": False}[args.compile]
    encoder = {"architecture": "encoder_decoder",
               "encoder_layers": args.encoder_layers} if args.encoder_layers else {}
    return TrainConfig(
        model=ModelConfig(dim=args.dim, n_layers=args.layers, n_heads=args.heads,
                          mlp_ratio=args.mlp_ratio, **encoder),
        data=DataConfig(manifest="synthetic", seq_len=args.seq_len,
                        global_batch_size=args.batch),
        optim=OptimConfig(lr=3e-4, warmup_steps=10),
        training=TrainingConfig(steps=args.warmup, log_every=10**9, output_dir=output_dir,
                                compile=compile_, freeze=freeze,
                                objective="t5_span" if args.encoder_layers else "clm",
                                activation_checkpointing=args.activation_checkpointing))


def _synthetic_loader(cfg: TrainConfig, vocab: int, samples: int, folder: str,
                      seed: int = 0) -> MixtureLoader:
    """A loader over one shard of random documents holding at least ``samples``
    sequences."""
    rng = np.random.default_rng(seed)
    need = samples * (cfg.data.seq_len + 1)
    docs, total = [], 0
    while total < need:
        doc = rng.integers(len(SPECIAL_TOKENS), vocab,
                           size=int(rng.integers(1, 4 * cfg.data.seq_len + 1)))
        docs.append((doc, {}))
        total += len(doc) + 1
    path = os.path.join(folder, "synthetic.shard")
    write_shard(path, docs, dtype_for_vocab(vocab))
    packed = {"synthetic": PackedComponent([Shard(path)], cfg.data.seq_len)}
    plan = plan_mixture([ComponentSpec(name="synthetic", sequences=len(packed["synthetic"]),
                                       weight=1.0, epochs=None)])
    return MixtureLoader(MixtureSampler(plan, seed), packed,
                         global_batch_size=cfg.data.global_batch_size, rank=0, world_size=1,
                         objectives={"synthetic": cfg.training.objective},
                         encoder_decoder=cfg.model.encoder_decoder)


def _trainer_steps(cfg: TrainConfig, loader: MixtureLoader, vocab: int,
                   device: torch.device, steps: int, folder: str) -> float:
    """Seconds of ``steps`` trainer steps after ``cfg.training.steps`` warmup steps."""
    model, work = build_model(cfg, vocab_size=vocab, device=device, world=1)
    optimizer = build_optimizer(model, cfg.optim)
    loader.step = 0
    log = MetricsLog(folder, append=False, enabled=True)

    def run(until: int) -> None:
        # The last step logs, which reads the loss: the device has finished by then.
        train_loop(dataclasses.replace(cfg, training=dataclasses.replace(
                       cfg.training, steps=until)),
                   model=model, optimizer=optimizer, loader=loader, device=device,
                   log=log, checkpoint=lambda step: None, flops_per_token=work)

    run(cfg.training.steps)
    _, seconds = timed(lambda: run(cfg.training.steps + steps))
    return seconds


def _bare_steps(cfg: TrainConfig, batch: Batch, vocab: int, device: torch.device,
                steps: int) -> float:
    """Seconds of ``steps`` steps of the bare loop after ``cfg.training.steps`` warmup."""
    model = Transformer(ModelArgs.from_config(cfg.model, vocab_size=vocab,
                                              seq_len=cfg.data.seq_len))
    model.init_weights(seed=cfg.data.seed)
    model.to(device)
    if resolve_compile(cfg.training.compile, device):
        for block in model.layers.values():
            block.compile()
    opt = cfg.optim
    optimizer = torch.optim.AdamW(model.parameters(), lr=opt.lr, betas=opt.betas,
                                  weight_decay=opt.weight_decay,
                                  fused=device.type == "cuda" or None)
    bf16 = resolve_dtype(cfg.training.dtype, device) == "bfloat16"
    inputs, targets = batch.inputs.to(device), batch.targets.to(device)

    def step() -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(inputs)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(0, 1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), opt.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    def run(n: int) -> None:
        for _ in range(n - 1):
            step()
        step().item()  # wait for the device

    run(cfg.training.steps)
    _, seconds = timed(lambda: run(steps))
    return seconds


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    device = init_distributed()
    try:
        with tempfile.TemporaryDirectory() as folder:
            cfg = _config(args, folder)
            loader = _synthetic_loader(cfg, args.vocab, (args.warmup + args.steps) *
                                       args.batch, folder)
            if args.encoder_layers:
                frozen = _config(args, folder, freeze=("decoder",))
                sides = {
                    "unfrozen": lambda: _trainer_steps(cfg, loader, args.vocab, device,
                                                       args.steps, folder),
                    "frozen": lambda: _trainer_steps(frozen, loader, args.vocab, device,
                                                     args.steps, folder),
                }
            else:
                batch = loader.batch(0)
                sides = {
                    "bare loop": lambda: _bare_steps(cfg, batch, args.vocab, device,
                                                     args.steps),
                    "trainer": lambda: _trainer_steps(cfg, loader, args.vocab, device,
                                                      args.steps, folder),
                }
            # Alternate the sides round by round, so slow spells of a shared machine hit
            # both alike.
            times = {name: math.inf for name in sides}  # seconds per step
            for _ in range(args.rounds):
                for name, side in sides.items():
                    times[name] = min(times[name], side() / args.steps)
                    _free(device)
            _report(args, cfg, device, times)
    finally:
        dist.destroy_process_group()
    return 0


def _report(args: argparse.Namespace, cfg: TrainConfig, device: torch.device,
            times: dict[str, float]) -> None:
    model_args = ModelArgs.from_config(cfg.model, vocab_size=args.vocab, seq_len=args.seq_len)
    with torch.device("meta"):
        params = sum(p.numel() for p in Transformer(model_args).parameters())
    stacks = 2 if args.encoder_layers else 1  # each stack has its own embeddings
    work = flops_per_token(params=params, embedding_params=stacks * args.vocab * args.dim,
                           n_layers=args.layers + args.encoder_layers, dim=args.dim,
                           seq_len=args.seq_len)
    peak = peak_flops(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"cpu, {torch.get_num_threads()} threads")
    hidden = swiglu_hidden(args.dim, args.mlp_ratio, cfg.model.multiple_of)
    shape = (f"encoder-decoder ({args.encoder_layers} + {args.layers} layers, t5_span), "
             if args.encoder_layers else "")
    print(f"device: {name}; model: {shape}dim {args.dim}, {args.layers} layers, "
          f"{args.heads} heads, "
          f"SwiGLU {hidden}, vocab {args.vocab}, {params / 1e6:.1f}M parameters; batch "
          f"{args.batch} x {args.seq_len}; {resolve_dtype(cfg.training.dtype, device)}, "
          f"compile {'on' if resolve_compile(cfg.training.compile, device) else 'off'}, "
          f"activation checkpointing {args.activation_checkpointing} (trainer); "
          f"{args.steps} steps x {args.rounds} rounds, fastest")
    tokens = args.batch * args.seq_len
    print(f"{'':12} {'ms/step':>9} {'tokens/s':>10} {'MFU':>6}")
    for side, seconds in times.items():
        mfu = f"{tokens / seconds * work / peak:6.1%}" if peak else f"{'-':>6}"
        print(f"{side:12} {seconds * 1e3:9.1f} {tokens / seconds:10,.0f} {mfu}")
    first, second = times
    print(f"{second} / {first}: {times[second] / times[first]:.3f}x step time")


if __name__ == "__main__":
    exit_after_teardown(main())
