"""A small decoder-only transformer (Llama-style): RMSNorm, RoPE, causal SDPA, SwiGLU.

Attention is causal (SDPA's ``is_causal=True``, no mask tensor) unless ``forward`` is given
a boolean mask (``training.attention``: a bidirectional prefix, or documents kept apart).

Pre-norm blocks in a ``ModuleDict`` keyed by layer index, so ``parallelize`` can shard each
block as one FSDP unit and checkpoints keep stable names (``layers.0.attn.wqkv.weight``).
Input embeddings and output projection are separate (untied) matrices. This module does not
import ``torch.distributed``.

A model trained with the ``bimodal`` objective also has two small heads on the final hidden
state (after the last norm), in ``heads``: ``contrastive``, a linear projection to the
contrastive embedding (CodeT5+'s 256-d projection), and ``matching``, one logit for "this
text and this code belong together". ``forward`` applies one of them to the hidden states
at given positions instead of the output projection (``training.bimodal`` pools there).
They are submodules of the root, so FSDP shards them with the embeddings and checkpoints
and resume carry them like any parameter; a model without ``embedding_dim`` has none, and
its parameters and initial weights are exactly those of a model built before they existed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from training.config import ModelConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelArgs:
    """Everything that fixes the network's shape.

    Attributes:
        vocab_size: embedding rows and output columns (from the manifest's tokenizer).
        dim: residual stream width.
        n_layers: number of blocks.
        n_heads: attention heads; ``dim / n_heads`` must be even (RoPE rotates pairs).
        mlp_ratio: SwiGLU hidden width as a multiple of ``dim`` (before rounding).
        multiple_of: the hidden width is rounded up to a multiple of this (see
            ``swiglu_hidden``).
        max_seq_len: longest sequence the rotary table covers.
        rope_theta: RoPE base frequency.
        norm_eps: RMSNorm epsilon.
        embedding_dim: width of the contrastive projection head; 0 (the default) builds no
            bimodal heads (``HEADS``).
    """

    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    mlp_ratio: float = 4.0
    multiple_of: int = 256
    max_seq_len: int = 2048
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    embedding_dim: int = 0

    @classmethod
    def from_config(cls, model: ModelConfig, *, vocab_size: int, seq_len: int,
                    embedding_dim: int = 0) -> "ModelArgs":
        """The shape a training config's ``model`` section describes, for a vocabulary of
        ``vocab_size`` ids (the manifest's), sequences of ``seq_len`` tokens and bimodal
        heads of ``embedding_dim`` (``TrainConfig.embedding_dim``; 0: none)."""
        return cls(vocab_size=vocab_size, dim=model.dim, n_layers=model.n_layers,
                   n_heads=model.n_heads, mlp_ratio=model.mlp_ratio,
                   multiple_of=model.multiple_of, max_seq_len=seq_len,
                   embedding_dim=embedding_dim)

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


def rope_table(head_dim: int, max_seq_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines and sines of the rotary angles, each ``[max_seq_len, head_dim / 2]``."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(max_seq_len, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs ``(x[..., i], x[..., i + d/2])`` of ``x`` ``[batch, heads, seq, d]``."""
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)  # [seq, d/2], broadcast over batch, heads
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    """Multi-head self-attention with rotary positions: causal, or as a mask allows."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads = args.n_heads
        self.wqkv = nn.Linear(args.dim, 3 * args.dim, bias=False)
        self.wo = nn.Linear(args.dim, args.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, seq, dim = x.shape
        # [batch, seq, 3 * dim] -> 3 x [batch, heads, seq, head_dim]
        q, k, v = (self.wqkv(x).view(batch, seq, 3, self.n_heads, dim // self.n_heads)
                   .permute(2, 0, 3, 1, 4).unbind(0))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if mask is None:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # [batch, 1, seq, seq], broadcast over heads
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        # [batch, heads, seq, head_dim] -> [batch, seq, dim]
        return self.wo(out.transpose(1, 2).reshape(batch, seq, dim))


def swiglu_hidden(dim: int, mlp_ratio: float, multiple_of: int) -> int:
    """The SwiGLU hidden width: ``mlp_ratio * dim`` rounded up to a multiple of
    ``multiple_of`` (Llama's rule). An unaligned width leaves every MLP GEMM unaligned: the
    usual 8/3 ratio at dim 2048 gives 5461, which ran the 1B model at 17% MFU on an H100
    against 41% at 5632."""
    return multiple_of * math.ceil(int(mlp_ratio * dim) / multiple_of)


class FeedForward(nn.Module):
    """SwiGLU MLP: ``w2(silu(w1 x) * w3 x)``."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        hidden = swiglu_hidden(args.dim, args.mlp_ratio, args.multiple_of)
        self.w1 = nn.Linear(args.dim, hidden, bias=False)
        self.w3 = nn.Linear(args.dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, args.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    """Pre-norm transformer block: attention then MLP, each added to the residual."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.attn_norm = nn.RMSNorm(args.dim, eps=args.norm_eps)
        self.attn = Attention(args)
        self.mlp_norm = nn.RMSNorm(args.dim, eps=args.norm_eps)
        self.mlp = FeedForward(args)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)
        return x + self.mlp(self.mlp_norm(x))


Fill = Callable[[torch.Tensor, torch.Generator | None], object]

HEADS = ("contrastive", "matching")
"""The bimodal heads, by the name ``Transformer.forward`` takes: the projection to the
contrastive embedding (``embedding_dim`` wide) and the matching logit (1 wide)."""


class Transformer(nn.Module):
    """Token ids ``[batch, seq]`` -> next-token logits ``[batch, seq, vocab_size]``."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleDict({str(i): Block(args) for i in range(args.n_layers)})
        self.norm = nn.RMSNorm(args.dim, eps=args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        widths = {"contrastive": args.embedding_dim, "matching": 1}
        self.heads = nn.ModuleDict({name: nn.Linear(args.dim, widths[name], bias=False)
                                    for name in HEADS if args.embedding_dim > 0})
        cos, sin = rope_table(args.head_dim, args.max_seq_len, args.rope_theta)
        # Derived from args, so not persistent: checkpoints hold parameters only.
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.init_weights()

    def init_plan(self) -> list[tuple[nn.Parameter, Fill]]:
        """The initialisation as ``(parameter, fill)`` pairs, in the order they draw from
        the random generator: ``fill(t, generator)`` initialises a CPU tensor ``t`` of the
        parameter's shape in place. Normal(0, 0.02) weights, RMSNorm weights 1, then the residual
        output projections drawn again with std 0.02 / sqrt(2 n_layers) (GPT-2), so the
        residual stream's variance does not grow with depth. A sharded model
        (``training.parallelize.materialize``) fills whole tensors in the same order and
        keeps its shards, so its weights equal the unsharded model's. The bimodal heads
        (Normal(0, 0.02)) are drawn last, so every other weight is the same with or
        without them."""
        def normal(std: float) -> Fill:
            return lambda t, generator: nn.init.normal_(t, std=std, generator=generator)

        plan: list[tuple[nn.Parameter, Fill]] = []
        heads = set(self.heads.values())
        for module in self.modules():
            if module in heads:
                continue
            if isinstance(module, (nn.Linear, nn.Embedding)):
                plan.append((module.weight, normal(0.02)))
            elif isinstance(module, nn.RMSNorm):
                plan.append((module.weight, lambda t, generator: nn.init.ones_(t)))
        residual = normal(0.02 / math.sqrt(2 * self.args.n_layers))
        for block in self.layers.values():
            block = getattr(block, "_checkpoint_wrapped_module", block)  # see parallelize
            plan += [(block.attn.wo.weight, residual), (block.mlp.w2.weight, residual)]
        return plan + [(head.weight, normal(0.02)) for head in self.heads.values()]

    @torch.no_grad()
    def init_buffers(self) -> None:
        """Recompute the rotary tables (after ``to_empty`` left them uninitialised)."""
        cos, sin = rope_table(self.args.head_dim, self.args.max_seq_len, self.args.rope_theta)
        self.rope_cos.copy_(cos)
        self.rope_sin.copy_(sin)

    @torch.no_grad()
    def init_weights(self, seed: int | None = None) -> None:
        """Initialise every parameter in place (``init_plan``).

        Args:
            seed: draw from a generator seeded with this (the trainer's way: the weights
                are then a function of the seed alone, whatever was drawn before, e.g. by
                the layers' own constructors); None draws from the global generator.
        """
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        for param, fill in self.init_plan():
            if param.device.type == "cpu" or seed is None:
                fill(param, generator)
            else:  # draw on the CPU, as ``training.parallelize.materialize`` does
                full = torch.empty(param.shape, dtype=param.dtype)
                fill(full, generator)
                param.copy_(full)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None, *,
                head: str | None = None, at: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of ``tokens``, or a bimodal head on the hidden states at some positions.

        A head goes through ``forward`` (not a method of its own) because FSDP gathers the
        root's parameters, the heads among them, around ``forward`` calls only.

        Args:
            tokens: ``[batch, seq]`` int64 ids, ``seq <= max_seq_len``.
            mask: bool ``[batch, 1, seq, seq]``, True where a query may attend to a key
                (``training.attention.build_mask``); None (the default) is causal
                attention on SDPA's fast path, without a mask tensor.
            head: None (the default) for next-token logits; a name of ``HEADS`` to apply
                that head, instead of the output projection, at ``at``.
            at: int64 ``[n, 2]``: ``(row, position)`` of each final hidden state (after
                the last norm) the head reads; required with ``head``.

        Returns:
            ``[batch, seq, vocab_size]`` next-token logits; with ``head``, ``[n, width]``:
            ``[n, embedding_dim]`` projections for ``contrastive`` (not normalised),
            ``[n, 1]`` logits for ``matching``.
        """
        seq = tokens.shape[1]
        if seq > self.args.max_seq_len:
            raise ValueError(f"sequence of {seq} tokens exceeds max_seq_len "
                             f"{self.args.max_seq_len}")
        h = self.tok_embeddings(tokens)  # [batch, seq, dim]
        cos, sin = self.rope_cos[:seq], self.rope_sin[:seq]
        for block in self.layers.values():
            h = block(h, cos, sin, mask)
        if head is None:
            return self.output(self.norm(h))  # [batch, seq, vocab]
        pooled = self.norm(h[at[:, 0], at[:, 1]])  # [n, dim]: RMSNorm is per position
        return self.heads[head](pooled)
