"""A small Llama-style transformer (RMSNorm, RoPE, SDPA, SwiGLU): decoder-only, or an
encoder-decoder.

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
On an encoder-decoder, ``contrastive`` reads the encoder's final states instead
(CodeT5+'s retrieval embedding: ``forward`` without decoder ids runs the encoder alone) and
``matching`` the decoder's, which cross-attend to the encoder's reading of the text.
They are submodules of the root, so FSDP shards them with the embeddings and checkpoints
and resume carry them like any parameter; a model without ``embedding_dim`` has none, and
its parameters and initial weights are exactly those of a model built before they existed.

With ``encoder_layers > 0`` (``model.architecture: encoder_decoder``) the same class is
CodeT5+'s encoder-decoder: ``encoder`` holds its own embeddings, ``encoder_layers``
bidirectional blocks and a final norm; every decoder block gains a cross-attention (between
self-attention and MLP, pre-norm like them) over the encoder's output. The blocks are the
decoder's ``Block`` (one class, flags for causality and cross-attention), so both stacks
share RMSNorm, RoPE on self-attention (cross-attention has none: encoder and decoder
positions are not on one axis) and the rounded SwiGLU. The decoder keeps the decoder-only
names (``tok_embeddings``, ``layers.N``, ``norm``, ``output``), so a decoder-only
checkpoint's tensors are exactly the decoder's, cross-attention aside, and the encoder's
under ``encoder.``: the two halves can be initialised from such checkpoints
(``model.init_decoder_from``, CodeT5+'s compute-efficient recipe).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable

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
        encoder_layers: bidirectional encoder blocks; 0 (the default) is decoder-only,
            more makes an encoder-decoder whose ``n_layers`` decoder blocks cross-attend
            to the encoder's output.
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
    encoder_layers: int = 0

    @classmethod
    def from_config(cls, model: ModelConfig, *, vocab_size: int, seq_len: int,
                    embedding_dim: int = 0) -> "ModelArgs":
        """The shape a training config's ``model`` section describes, for a vocabulary of
        ``vocab_size`` ids (the manifest's), sequences of ``seq_len`` tokens and bimodal
        heads of ``embedding_dim`` (``TrainConfig.embedding_dim``; 0: none)."""
        # An encoder-decoder's halves each see up to the whole packed window, seq_len + 1
        # tokens (``training.objectives.seq2seq_lengths``); a decoder sees seq_len.
        window = seq_len + 1 if model.encoder_layers else seq_len
        return cls(vocab_size=vocab_size, dim=model.dim, n_layers=model.n_layers,
                   n_heads=model.n_heads, mlp_ratio=model.mlp_ratio,
                   multiple_of=model.multiple_of, max_seq_len=window,
                   embedding_dim=embedding_dim, encoder_layers=model.encoder_layers)

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


def _split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``[batch, seq, dim]`` -> ``[batch, heads, seq, dim / heads]``."""
    batch, seq, dim = x.shape
    return x.view(batch, seq, n_heads, dim // n_heads).transpose(1, 2)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
            causal: bool) -> torch.Tensor:
    """SDPA over ``[batch, heads, seq, head_dim]`` queries, keys and values, merged back to
    ``[batch, q_seq, dim]``; ``mask`` (bool, True where a query may attend to a key,
    broadcast over heads) replaces ``causal`` when given."""
    if mask is None:
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    else:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    batch, heads, seq, head_dim = out.shape
    return out.transpose(1, 2).reshape(batch, seq, heads * head_dim)


class Attention(nn.Module):
    """Multi-head self-attention with rotary positions: causal (a decoder's; the fast path
    without a mask tensor) or bidirectional (an encoder's), or as a mask allows."""

    def __init__(self, args: ModelArgs, *, causal: bool = True):
        super().__init__()
        self.n_heads = args.n_heads
        self.causal = causal
        self.wqkv = nn.Linear(args.dim, 3 * args.dim, bias=False)
        self.wo = nn.Linear(args.dim, args.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        # [batch, seq, 3 * dim] -> 3 x [batch, heads, seq, head_dim]
        q, k, v = (_split_heads(part, self.n_heads) for part in self.wqkv(x).chunk(3, dim=-1))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        return self.wo(_attend(q, k, v, mask, self.causal))


class CrossAttention(nn.Module):
    """Multi-head attention of decoder positions over the encoder's output (T5's
    encoder-decoder attention): queries from the decoder, keys and values from the
    encoder, no rotary positions (the two sequences share no position axis)."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads = args.n_heads
        self.wq = nn.Linear(args.dim, args.dim, bias=False)
        self.wkv = nn.Linear(args.dim, 2 * args.dim, bias=False)
        self.wo = nn.Linear(args.dim, args.dim, bias=False)

    def forward(self, x: torch.Tensor, memory: torch.Tensor,
                memory_mask: torch.Tensor | None) -> torch.Tensor:
        """``x`` ``[batch, seq, dim]`` attends to ``memory`` ``[batch, mem_seq, dim]``
        where ``memory_mask`` (bool ``[batch, 1, 1, mem_seq]``, None: everywhere) allows."""
        q = _split_heads(self.wq(x), self.n_heads)
        k, v = (_split_heads(part, self.n_heads) for part in self.wkv(memory).chunk(2, dim=-1))
        return self.wo(_attend(q, k, v, memory_mask, causal=False))


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
    """Pre-norm transformer block: self-attention, cross-attention over the encoder's
    output (a decoder block of an encoder-decoder only), then MLP, each added to the
    residual.

    Args:
        args: the network's shape.
        causal: causal self-attention (decoder blocks) or bidirectional (encoder blocks).
        cross: add the cross-attention (``cross_norm``, ``cross_attn``).
    """

    def __init__(self, args: ModelArgs, *, causal: bool = True, cross: bool = False):
        super().__init__()
        self.attn_norm = nn.RMSNorm(args.dim, eps=args.norm_eps)
        self.attn = Attention(args, causal=causal)
        if cross:
            self.cross_norm = nn.RMSNorm(args.dim, eps=args.norm_eps)
            self.cross_attn = CrossAttention(args)
        self.mlp_norm = nn.RMSNorm(args.dim, eps=args.norm_eps)
        self.mlp = FeedForward(args)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None, memory: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)
        if memory is not None:
            x = x + self.cross_attn(self.cross_norm(x), memory, memory_mask)
        return x + self.mlp(self.mlp_norm(x))

    @property
    def residual_outputs(self) -> list[nn.Linear]:
        """The projections that write into the residual stream (GPT-2's scaled init)."""
        cross = [self.cross_attn.wo] if hasattr(self, "cross_attn") else []
        return [self.attn.wo, *cross, self.mlp.w2]


class Encoder(nn.Module):
    """The encoder of an encoder-decoder: embeddings, bidirectional blocks, final norm.
    Run by ``Transformer.forward`` (FSDP gathers the root's parameters, these among them,
    around the root's ``forward`` only)."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleDict({str(i): Block(args, causal=False)
                                     for i in range(args.encoder_layers)})
        self.norm = nn.RMSNorm(args.dim, eps=args.norm_eps)


def canonical_name(name: str) -> str:
    """A parameter's name as checkpoints write it: without the ``_checkpoint_wrapped_module``
    that activation checkpointing inserts (``training.parallelize``)."""
    return name.replace("._checkpoint_wrapped_module", "")


def in_decoder(name: str) -> bool:
    """Whether the parameter ``name`` of an encoder-decoder is its decoder's: one a
    decoder-only model of the same shape has too (embeddings, self-attention, MLPs, norms,
    output projection), not the encoder's, a cross-attention's or a bimodal head's. These are
    what ``model.init_decoder_from`` loads and ``training.freeze: [decoder]`` freezes."""
    name = canonical_name(name)
    return not (name.startswith(("encoder.", "heads.")) or ".cross_" in name)


def freeze(model: nn.Module, parts: Iterable[str]) -> None:
    """Stop the parameters of ``parts`` (``training.freeze``: ``decoder``, ``in_decoder``)
    from training: they get no gradient, hence no optimizer state
    (``training.trainer.build_optimizer`` takes trainable parameters only). Call it before
    ``training.parallelize.parallelize``, so FSDP sees which parameters need gradients."""
    if "decoder" in parts:
        for name, param in model.named_parameters():
            if in_decoder(name):
                param.requires_grad_(False)


Fill = Callable[[torch.Tensor, torch.Generator | None], object]

HEADS = ("contrastive", "matching")
"""The bimodal heads, by the name ``Transformer.forward`` takes: the projection to the
contrastive embedding (``embedding_dim`` wide) and the matching logit (1 wide)."""


class Transformer(nn.Module):
    """Token ids ``[batch, seq]`` -> next-token logits ``[batch, seq, vocab_size]``; with
    an encoder (``args.encoder_layers > 0``), the decoder's logits given the encoder's
    reading of other ids."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.encoder = Encoder(args) if args.encoder_layers > 0 else None
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        cross = self.encoder is not None
        self.layers = nn.ModuleDict({str(i): Block(args, cross=cross)
                                     for i in range(args.n_layers)})
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

    def block_stacks(self) -> list[nn.ModuleDict]:
        """The stacks of blocks in the order forward runs them: the encoder's (if any),
        then the decoder's. ``training.parallelize`` makes each block an FSDP unit."""
        encoder = [] if self.encoder is None else [self.encoder.layers]
        return [*encoder, self.layers]

    def init_plan(self) -> list[tuple[nn.Parameter, Fill]]:
        """The initialisation as ``(parameter, fill)`` pairs, in the order they draw from
        the random generator: ``fill(t, generator)`` initialises a CPU tensor ``t`` of the
        parameter's shape in place. Normal(0, 0.02) weights, RMSNorm weights 1, then the
        residual output projections drawn again with std 0.02 / sqrt(k * layers) (GPT-2),
        ``k`` the residual branches of a block (2, 3 with cross-attention) and ``layers``
        its stack's depth, so the residual stream's variance does not grow with depth. A
        sharded model (``training.parallelize.materialize``) fills whole tensors in the same
        order and keeps its shards, so its weights equal the unsharded model's. The bimodal
        heads (Normal(0, 0.02)) are drawn last, so every other weight is the same with or
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
        for stack in self.block_stacks():
            for block in stack.values():
                block = getattr(block, "_checkpoint_wrapped_module", block)  # see parallelize
                outputs = block.residual_outputs
                residual = normal(0.02 / math.sqrt(len(outputs) * len(stack)))
                plan += [(linear.weight, residual) for linear in outputs]
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

    def _rope(self, seq: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The rotary tables of the first ``seq`` positions."""
        if seq > self.args.max_seq_len:
            raise ValueError(f"sequence of {seq} tokens exceeds max_seq_len "
                             f"{self.args.max_seq_len}")
        return self.rope_cos[:seq], self.rope_sin[:seq]

    def _encode(self, tokens: torch.Tensor, lengths: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The encoder's final hidden states ``[batch, enc_seq, dim]`` of ``tokens`` and the
        key mask over them (bool ``[batch, 1, 1, enc_seq]``, True on each row's first
        ``lengths`` positions; None when ``lengths`` is None: no padding)."""
        assert self.encoder is not None
        mask = None
        if lengths is not None:  # padding keys are hidden from every query, both stacks
            positions = torch.arange(tokens.shape[1], device=tokens.device)
            mask = (positions[None, :] < lengths[:, None])[:, None, None, :]
        cos, sin = self._rope(tokens.shape[1])
        h = self.encoder.tok_embeddings(tokens)  # [batch, enc_seq, dim]
        for block in self.encoder.layers.values():
            h = block(h, cos, sin, mask)
        return self.encoder.norm(h), mask

    def forward(self, tokens: torch.Tensor | None, mask: torch.Tensor | None = None, *,
                encoder_tokens: torch.Tensor | None = None,
                encoder_lengths: torch.Tensor | None = None,
                head: str | None = None, at: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of ``tokens``, or a bimodal head on the hidden states at some positions.

        A head goes through ``forward`` (not a method of its own) because FSDP gathers the
        root's parameters, the heads among them, around ``forward`` calls only; so does
        the encoder.

        Args:
            tokens: ``[batch, seq]`` int64 ids (the decoder's, with an encoder),
                ``seq <= max_seq_len``; None with an encoder and ``head`` ``contrastive``:
                the head then reads the encoder's final states, and the decoder is not run.
            mask: bool ``[batch, 1, seq, seq]``, True where a query may attend to a key
                (``training.attention.build_mask``); None (the default) is causal
                attention on SDPA's fast path, without a mask tensor.
            encoder_tokens: ``[batch, enc_seq]`` int64 ids the encoder reads; required by
                (and only taken by) an encoder-decoder.
            encoder_lengths: int64 ``[batch]``: how many leading ``encoder_tokens`` of each
                row are real, the rest padding no position attends to; None: all real.
            head: None (the default) for next-token logits; a name of ``HEADS`` to apply
                that head, instead of the output projection, at ``at``.
            at: int64 ``[n, 2]``: ``(row, position)`` of each final hidden state (after
                the last norm) the head reads; required with ``head``.

        Returns:
            ``[batch, seq, vocab_size]`` next-token logits; with ``head``, ``[n, width]``:
            ``[n, embedding_dim]`` projections for ``contrastive`` (not normalised),
            ``[n, 1]`` logits for ``matching``.
        """
        if (encoder_tokens is None) != (self.encoder is None):
            raise ValueError("an encoder-decoder needs encoder_tokens, a decoder takes none")
        memory, memory_mask = (None, None) if encoder_tokens is None else self._encode(
            encoder_tokens, encoder_lengths)
        if tokens is None:
            if encoder_tokens is None or head != "contrastive":
                raise ValueError("only the contrastive head reads an encoder alone")
            return self.heads[head](memory[at[:, 0], at[:, 1]])  # encoder states are normed
        cos, sin = self._rope(tokens.shape[1])
        h = self.tok_embeddings(tokens)  # [batch, seq, dim]
        for block in self.layers.values():
            h = block(h, cos, sin, mask, memory, memory_mask)
        if head is None:
            return self.output(self.norm(h))  # [batch, seq, vocab]
        pooled = self.norm(h[at[:, 0], at[:, 1]])  # [n, dim]: RMSNorm is per position
        return self.heads[head](pooled)
