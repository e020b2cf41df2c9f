"""The training loop: AdamW, warmup + cosine learning rate, gradient clipping, metrics.

Each step takes this rank's slice of ``data.accumulation_steps`` micro-batches from the
loader, builds the attention mask when a batch has a prefix or ``training.document_mask`` is
on (``training.attention``; plain causal attention needs none), or feeds an encoder-decoder's
batch to its encoder and decoder (``batch_logits``), computes the loss, and
accumulates gradients, which FSDP averages over ranks in the last backward. The loss is the
mean over the step's predicted tokens on all ranks, so a step's loss and gradient are the
same on any number of processes for the same global batch.
Every ``log_every`` steps (and at the first and last) the step loss averaged over
the steps since the previous entry, the loss of each objective in use (``loss/<objective>``:
per token, over ranks and steps, ``training.metrics``), the learning rate and gradient norm
of the step, the throughput, peak memory, MFU (on a known accelerator) and each component's
epoch (``epoch/<name>``: passes over it so far) go to rank 0's ``MetricsLog``. Every
``eval_every`` steps and at the last, the held-out evaluation (``training.evaluate``) joins
that step's entry. A run with the ``bimodal`` objective also runs CodeT5+'s contrastive and
matching passes on the micro-batches holding pairs (``training.bimodal``), and logs their
losses and the matching accuracy.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor

from tokenizer.special_tokens import SpecialIds
from training.attention import attention_mask
from training.bimodal import BimodalLoss, metric_names
from training.config import OptimConfig, TrainConfig
from training.data.loader import Batch, MixtureLoader
from training.data.sampler import component_epochs
from training.flops import peak_flops
from training.metrics import GroupLosses, MetricsLog, sequence_losses
from training.objectives.example import IGNORE_INDEX
from training.parallelize import set_gradient_sync


def lr_at(step: int, *, lr: float, warmup_steps: int, total_steps: int,
          min_lr_ratio: float) -> float:
    """Learning rate of step ``step`` (0-based): linear warmup, then cosine decay.

    Warmup rises linearly over ``warmup_steps`` steps to ``lr`` (reached at step
    ``warmup_steps - 1``); the cosine then falls from ``lr`` at step ``warmup_steps`` to
    ``lr * min_lr_ratio`` at the last step, ``total_steps - 1``, and stays there after.
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    decay_steps = total_steps - warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, decay_steps - 1))
    floor = lr * min_lr_ratio
    return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def parameter_kind(module: torch.nn.Module, name: str) -> str:
    """``norm``, ``bias``, ``embedding`` or ``weight``: what ``OptimConfig.no_decay`` names
    for the parameter ``name`` held directly by ``module``."""
    if name == "bias":  # a LayerNorm's too
        return "bias"
    if isinstance(module, (torch.nn.RMSNorm, torch.nn.LayerNorm)):
        return "norm"
    return "embedding" if isinstance(module, torch.nn.Embedding) else "weight"


def parameter_groups(model: torch.nn.Module, cfg: OptimConfig) -> list[dict]:
    """AdamW's groups: the parameters to decay with ``cfg.weight_decay``, then those of the
    kinds in ``cfg.no_decay`` with none; an empty group is left out. Frozen parameters
    (``training.freeze``) are in neither: the optimizer holds no state for them."""
    decay, keep = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if param.requires_grad:
                (keep if parameter_kind(module, name) in cfg.no_decay else decay).append(param)
    return [group for group in ({"params": decay, "weight_decay": cfg.weight_decay},
                                {"params": keep, "weight_decay": 0.0}) if group["params"]]


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over ``parameter_groups`` (the schedule sets ``lr`` each step): the fused
    kernel when every parameter is on CUDA (5-6% faster on the 1B config), else the
    multi-tensor (``foreach``) implementation."""
    groups = parameter_groups(model, cfg)
    params = [p for g in groups for p in g["params"]]
    fused = bool(params) and all(p.device.type == "cuda" for p in params)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay,
                             fused=fused or None, foreach=None if fused else True)


def step_moving_only_trained(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``, leaving every parameter of the optimizer that got no gradient
    this step (only the bimodal heads can lack one: a step without pairs) and its optimizer
    state exactly as they were: AdamW would otherwise move it by weight decay and by its
    running momentum, though nothing was learned about it.

    Such a parameter takes part in the step with a zero gradient and is put back after it,
    so the optimizer holds state for every parameter it has from the first step on and
    every checkpoint has the same keys; state the step created (a first step without
    pairs) is reset to zeros, AdamW's fresh state. Frozen parameters are not the
    optimizer's (``parameter_groups``) and are left alone.
    """
    idle = [p for group in optimizer.param_groups for p in group["params"] if p.grad is None]
    saved = []
    for param in idle:
        param.grad = torch.zeros_like(param)
        saved.append((param, param.detach().clone(),
                      {k: v.clone() for k, v in optimizer.state.get(param, {}).items()}))
    optimizer.step()
    with torch.no_grad():
        for param, value, state in saved:
            param.copy_(value)
            for key, now in optimizer.state[param].items():
                if key in state:
                    now.copy_(state[key])
                else:
                    now.zero_()


def _scalar(x: torch.Tensor) -> float:
    return float(x.full_tensor() if isinstance(x, DTensor) else x)


def memory_gib(device: torch.device) -> float:
    """Peak memory of this process so far: the accelerator's allocator on CUDA, the
    resident set on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def train_loop(cfg: TrainConfig, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               loader: MixtureLoader, device: torch.device, log: MetricsLog,
               checkpoint: Callable[[int], None], flops_per_token: float = 0.0,
               evaluate: Callable[[], dict[str, float]] | None = None,
               stop: Callable[[], bool] | None = None) -> None:
    """Train from ``loader.step`` up to ``cfg.training.steps``, or until ``stop`` says so;
    collective on every rank.

    Args:
        cfg: the run's config (optim and training sections are used here).
        model: the FSDP-sharded model.
        optimizer: its optimizer.
        loader: this rank's batches; its ``step`` is where the run continues.
        device: where batches go.
        log: rank 0's metrics log.
        checkpoint: called with the completed step count every ``checkpoint_every`` steps.
        flops_per_token: training FLOPs per token (``training.flops``), for the MFU that is
            logged on a known accelerator.
        evaluate: the held-out evaluation (collective; returns ``eval/<component>`` scalars),
            run every ``eval_every`` steps and at the last; None when nothing is held out.
        stop: asked after every step but the last (collective, ``training.stopping``);
            True ends the loop there. None: run every step.
    """
    opt, run = cfg.optim, cfg.training
    world = dist.get_world_size()
    accum = cfg.data.accumulation_steps
    samples_per_step = cfg.data.global_batch_size * accum
    tokens_per_step = samples_per_step * cfg.data.seq_len
    first = loader.step // accum  # the loader counts micro-batches
    last_time, last_step = time.perf_counter(), first
    loss_sum = torch.zeros((), device=device)  # this rank's losses since the last entry
    objective_losses = GroupLosses(metric_names(loader.objective_names), device)
    bimodal = BimodalLoss.for_run(cfg.objectives, loader.objective_names, loader.specials,
                                  encoder_decoder=loader.seq2seq)
    peak = peak_flops(device)
    model.train()
    for step in range(first, run.steps):
        lr = lr_at(step, lr=opt.lr, warmup_steps=opt.warmup_steps, total_steps=run.steps,
                   min_lr_ratio=opt.min_lr_ratio)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = _accumulate(model, [loader.next_batch() for _ in range(accum)], device,
                           document_mask=run.document_mask, losses=objective_losses,
                           specials=loader.specials, bimodal=bimodal)
        grad_norm = torch.nn.utils.clip_grad_norm_(
            model.parameters(), opt.grad_clip if opt.grad_clip > 0 else math.inf)
        step_moving_only_trained(optimizer)
        optimizer.zero_grad(set_to_none=True)
        loss_sum += loss
        done = step + 1
        evaluating = evaluate is not None and (
            done == run.steps or (run.eval_every > 0 and done % run.eval_every == 0))
        if done % run.log_every == 0 or step == first or done == run.steps or evaluating:
            dist.all_reduce(loss_sum)  # sum over ranks (gloo has no AVG)
            now = time.perf_counter()
            epochs = component_epochs(loader.sampler.plan, loader.sampler.seed,
                                      done * samples_per_step)
            tokens_per_s = tokens_per_step * (done - last_step) / (now - last_time)
            s_per_step = (now - last_time) / (done - last_step)
            entry = {"step": done, "loss": loss_sum.item() / (done - last_step),
                     **objective_losses.means(),
                     "lr": lr, "grad_norm": _scalar(grad_norm), "tokens_per_s": tokens_per_s,
                     "s_per_step": s_per_step, "memory_gib": round(memory_gib(device), 3)}
            if peak and flops_per_token:  # per device: each rank does 1/world of the work
                entry["mfu"] = tokens_per_s * flops_per_token / (world * peak)
            entry.update({f"epoch/{name}": round(e, 4) for name, e in epochs.items()})
            if evaluating:  # evaluation is not training: its time is left out of tokens_per_s
                began = time.perf_counter()
                entry.update(evaluate())
                now += time.perf_counter() - began
            # The ETA uses the latest interval's pace: the first step's includes warm-up.
            log.log(entry, eta_s=s_per_step * (run.steps - done))
            last_time, last_step = now, done
            loss_sum.zero_()
        if run.checkpoint_every and done % run.checkpoint_every == 0 and done < run.steps:
            checkpoint(done)
        if stop is not None and done < run.steps and stop():
            return


def batch_logits(model: torch.nn.Module, batch: Batch, *, document_mask: bool,
                 specials: SpecialIds) -> torch.Tensor:
    """The model's logits for ``batch`` (on the model's device), ``[rows, seq, vocab]``
    beside ``batch.targets``: an encoder-decoder's decoder logits given the encoder's ids;
    a decoder's over the inputs, with the attention mask the batch needs
    (``training.attention``: ``document_mask``, documents marked by ``specials``)."""
    if batch.decoder_inputs is not None:
        return model(batch.decoder_inputs, encoder_tokens=batch.inputs,
                     encoder_lengths=batch.encoder_lengths)
    mask = attention_mask(batch.inputs, prefix=batch.prefix, document_mask=document_mask,
                          specials=specials)
    return model(batch.inputs, mask)


def _accumulate(model: torch.nn.Module, batches: list[Batch], device: torch.device, *,
                document_mask: bool, losses: GroupLosses, specials: SpecialIds,
                bimodal: BimodalLoss | None = None) -> torch.Tensor:
    """Forward and backward over one step's micro-batches; returns this rank's share of the
    step's loss (the shares of all ranks add up to it).

    The step's loss is the sum of every sequence's loss (``sequence_losses``) over the
    step's predicted tokens on all ranks (one all-reduce of the counts first), so its
    gradient is the mean over all of them: the same as one batch of every rank's and every
    micro-batch's sequences, whatever the number of ranks. Each rank backpropagates its
    share times the world size, as FSDP averages gradients over ranks; it reduces them only
    in the last backward, the earlier ones accumulating unsharded local gradients. Each
    sequence's loss and token count are also added to ``losses`` under its batch group.
    ``specials`` (the corpus's, ``MixtureLoader.specials``) mark the documents for
    ``document_mask``. With ``bimodal`` (the run has a pair objective), its rows' losses are
    weighted, and a micro-batch carrying pairs also gets the contrastive and matching
    passes, whose backwards come before its own: the generation backward runs through every
    block, so the step's last one reduces every gradient the passes accumulated.
    """
    counts = [(b.targets != IGNORE_INDEX).sum(dim=1) for b in batches]  # per sequence
    totals = torch.tensor([sum(int(c.sum()) for c in counts),
                           sum(len(b.pairs) for b in batches if b.pairs is not None)],
                          dtype=torch.float64, device=device)
    dist.all_reduce(totals)  # the step's tokens and pairs on all ranks
    tokens, pairs = totals.clamp_min(1).float().unbind()
    world = dist.get_world_size()
    loss = torch.zeros((), device=device)
    for i, (batch, count) in enumerate(zip(batches, counts)):
        last, paired = i == len(batches) - 1, bimodal is not None and batch.pairs is not None
        if paired:  # on the CPU batch: the passes build their rows there
            loss += bimodal.accumulate(model, batch, step_pairs=pairs, losses=losses,
                                       device=device)
        batch = batch.to(device)
        per_sequence = sequence_losses(batch_logits(model, batch, document_mask=document_mask,
                                                    specials=specials), batch.targets)
        if len(batches) > 1 or paired:
            set_gradient_sync(model, last)
        weighted = per_sequence if bimodal is None else bimodal.weigh(per_sequence, batch.group)
        micro = weighted.sum() / tokens
        (micro * world).backward()
        loss += micro.detach()
        losses.add(batch.group, per_sequence.detach(), count.to(device))
    return loss
