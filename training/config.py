"""Trainer configuration: keyword-only dataclasses, one YAML loader, dotted overrides.

A config file has five sections, each a dataclass below::

    model:      {dim: 128, n_layers: 2, n_heads: 4}
    data:       {manifest: out/demo/manifest.json, seq_len: 128, global_batch_size: 16}
    optim:      {lr: 3.0e-3, warmup_steps: 30}
    training:   {steps: 300, output_dir: out/demo/train, objective: fim,
                 objective_per_component: {text-docs: clm}, eval_sequences: 16}
    objectives: {fim_rate: 0.5, fim_spm_rate: 0.5}          # settings of the objectives

``load_config(path, overrides)`` reads it, applies ``section.key=value`` overrides (values
parsed as YAML scalars) and builds the dataclasses with the shared loader
(``configuration.loader``, as the build's mixture spec), which rejects unknown keys by name.
Every error is a ``ConfigError`` whose message is one line for the user. Relative paths are relative to the working
directory. This module imports neither torch nor Beam, so the launcher can validate a
config before it starts any worker.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import typing
from collections.abc import Sequence
from typing import Any

import yaml

from configuration.loader import ConfigError, build, read_yaml
from training.objectives import (ENCODER_DECODER_OBJECTIVES, OBJECTIVES, PAIR_OBJECTIVES,
                                  SEQ2SEQ_OBJECTIVES)

DTYPES = ("auto", "float32", "bfloat16")
FREEZABLE = ("decoder",)
ACTIVATION_CHECKPOINTING = ("none", "selective", "full")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


ARCHITECTURES = ("decoder", "encoder_decoder")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Shape of the transformer (the vocabulary size comes from the manifest)."""

    architecture: str = "decoder"
    """``decoder``: decoder-only (CodeGen2); ``encoder_decoder``: a bidirectional encoder of
    ``encoder_layers`` blocks and a causal decoder of ``n_layers`` blocks that
    cross-attends to it (CodeT5+), trained with the encoder-decoder objectives
    (``training.objectives.ENCODER_DECODER_OBJECTIVES``)."""

    encoder_layers: int = 0
    """Encoder blocks of an ``encoder_decoder`` (at least 1; CodeT5+ pairs a shallow encoder
    with a deep decoder); must stay 0 for a ``decoder``."""

    init_decoder_from: str | None = None
    """An ``encoder_decoder``'s decoder starts from this codemix decoder-only checkpoint
    (``.../step-NNNNNN``): its embeddings, blocks, final norm and output projection, which
    must have this config's shapes (``n_layers`` blocks) and tokenizer; cross-attention
    keeps its fresh initialisation (CodeT5+'s compute-efficient recipe). None: all fresh.
    Ignored on resume, where the checkpoint holds every weight."""

    init_encoder_from: str | None = None
    """Likewise the encoder, from a decoder-only checkpoint of this width and tokenizer:
    its embeddings, final norm and first ``encoder_layers`` blocks (their attention then
    runs bidirectionally). None: fresh."""

    dim: int = 256
    """Width of the residual stream; must be divisible by ``n_heads``."""

    n_layers: int = 4
    """Number of transformer blocks; each block is one FSDP unit."""

    n_heads: int = 4
    """Attention heads per block; ``dim / n_heads`` is the head size and must be even (RoPE)."""

    mlp_ratio: float = 4.0
    """Hidden width of the SwiGLU MLP as a multiple of ``dim``, before rounding."""

    multiple_of: int = 256
    """The SwiGLU hidden width is rounded up to a multiple of this, so no setting of
    ``mlp_ratio`` can leave the MLP's matrix multiplies unaligned (8/3 at dim 2048 would
    give 5461: 17% MFU on an H100 against 41% at 5632)."""

    def __post_init__(self) -> None:
        _require(self.dim > 0 and self.n_layers > 0 and self.n_heads > 0,
                 "model.dim, model.n_layers and model.n_heads must be positive")
        _require(self.dim % self.n_heads == 0,
                 f"model.dim ({self.dim}) must be divisible by model.n_heads ({self.n_heads})")
        _require((self.dim // self.n_heads) % 2 == 0,
                 f"model head size dim/n_heads ({self.dim // self.n_heads}) must be even")
        _require(self.mlp_ratio > 0, f"model.mlp_ratio must be positive, got {self.mlp_ratio}")
        _require(self.multiple_of > 0,
                 f"model.multiple_of must be positive, got {self.multiple_of}")
        _require(self.architecture in ARCHITECTURES,
                 f"model.architecture must be one of {', '.join(ARCHITECTURES)}, "
                 f"got {self.architecture!r}")
        if self.encoder_decoder:
            _require(self.encoder_layers > 0, "model.encoder_layers must be positive for "
                     f"model.architecture encoder_decoder, got {self.encoder_layers}")
        else:
            _require(self.encoder_layers == 0, "model.encoder_layers applies to "
                     "model.architecture encoder_decoder only; this model is a decoder")
            for name in ("init_decoder_from", "init_encoder_from"):
                _require(getattr(self, name) is None, f"model.{name} applies to "
                         "model.architecture encoder_decoder only; this model is a decoder")

    @property
    def encoder_decoder(self) -> bool:
        """Whether the model has an encoder (``architecture: encoder_decoder``)."""
        return self.architecture == "encoder_decoder"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where the tokens come from and how they are cut and batched."""

    manifest: str
    """Path or fsspec URL of the build's manifest.json; every file it names is checked."""

    seq_len: int = 512
    """Tokens the model sees per sequence; packed chunks hold ``seq_len + 1`` tokens."""

    global_batch_size: int = 8
    """Sequences per optimizer step over all ranks; must be divisible by the world size."""

    seed: int = 0
    """Seed of the mixture sampler and objectives (and model init); same seed, same order."""

    tokens_per_step: int | None = None
    """Tokens per optimizer step over all ranks; None means one micro-batch per step
    (``global_batch_size * seq_len``). Otherwise it must be a whole multiple ``A`` of
    ``global_batch_size * seq_len``: each step then accumulates gradients over ``A``
    micro-batches of ``global_batch_size`` sequences (gradients are reduced over ranks on
    the last one only). The data position counts micro-batches, so step ``s`` trains on
    global samples ``[s * A * G, (s + 1) * A * G)``: the same samples as one batch of
    ``A * G``."""

    def __post_init__(self) -> None:
        _require(bool(self.manifest), "data.manifest is required")
        _require(self.seq_len > 0, f"data.seq_len must be positive, got {self.seq_len}")
        _require(self.global_batch_size > 0,
                 f"data.global_batch_size must be positive, got {self.global_batch_size}")
        _require(self.seed >= 0, f"data.seed must be non-negative, got {self.seed}")
        micro = self.global_batch_size * self.seq_len
        _require(self.tokens_per_step is None
                 or (self.tokens_per_step > 0 and self.tokens_per_step % micro == 0),
                 f"data.tokens_per_step ({self.tokens_per_step}) must be a positive multiple "
                 f"of data.global_batch_size * data.seq_len ({micro})")

    @property
    def accumulation_steps(self) -> int:
        """Micro-batches per optimizer step: ``tokens_per_step / (global_batch_size *
        seq_len)``, 1 when ``tokens_per_step`` is None."""
        if self.tokens_per_step is None:
            return 1
        return self.tokens_per_step // (self.global_batch_size * self.seq_len)


NO_DECAY_KINDS = ("norm", "bias", "embedding")
"""Kinds of parameter ``OptimConfig.no_decay`` may exempt from weight decay."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """AdamW with linear warmup, then cosine decay to ``min_lr_ratio * lr``."""

    lr: float = 3e-4
    """Peak learning rate, reached at the end of warmup."""

    weight_decay: float = 0.1
    """Decoupled weight decay of AdamW, for every parameter but those in ``no_decay``."""

    no_decay: tuple[str, ...] = NO_DECAY_KINDS
    """Kinds of parameter AdamW does not decay: ``norm`` (RMSNorm / LayerNorm gains),
    ``bias`` (every bias), ``embedding`` (token embedding tables). Decaying a gain or a bias
    pulls it towards 0, a scale and offset the model has no reason to shrink, and an
    embedding row decays on every step while only the rows of the batch's tokens get
    gradient; nanoGPT, Megatron-LM and torchtitan's recipes exempt them likewise. ``[]``
    decays every parameter."""

    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW's (beta1, beta2)."""

    warmup_steps: int = 100
    """Steps of linear warmup from ``lr / warmup_steps`` to ``lr``; a run shorter than this
    (e.g. a quick ``--set training.steps=20``) simply never reaches the peak."""

    min_lr_ratio: float = 0.1
    """Learning rate at the last step as a fraction of ``lr``, in [0, 1]."""

    grad_clip: float = 1.0
    """Maximum global gradient norm; 0 turns clipping off."""

    def __post_init__(self) -> None:
        _require(self.lr > 0, f"optim.lr must be positive, got {self.lr}")
        _require(self.weight_decay >= 0, "optim.weight_decay must be non-negative")
        unknown = set(self.no_decay) - set(NO_DECAY_KINDS)
        _require(not unknown, f"optim.no_decay: unknown kind(s) {sorted(unknown)} "
                              f"(have: {', '.join(NO_DECAY_KINDS)})")
        _require(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
                 f"optim.betas must be two numbers in [0, 1), got {list(self.betas)}")
        _require(self.warmup_steps >= 0, "optim.warmup_steps must be non-negative")
        _require(0 <= self.min_lr_ratio <= 1,
                 f"optim.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        _require(self.grad_clip >= 0, "optim.grad_clip must be non-negative")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """Length of the run, precision, logging and checkpoints."""

    steps: int = 1000
    """Optimizer steps of the whole run (a resumed run continues up to this step)."""

    dtype: str = "auto"
    """Parameter dtype during forward/backward (FSDP ``MixedPrecisionPolicy.param_dtype``):
    ``auto``, ``float32`` or ``bfloat16``. ``auto`` is ``bfloat16`` on CUDA and ``float32``
    on the CPU. Master weights, optimizer state and gradient reduction stay in float32."""

    activation_checkpointing: str = "none"
    """Recompute block activations in backward instead of keeping them: ``none``;
    ``selective``: every second block (blocks 1, 3, 5, ...; torchtitan's "selective layer"
    checkpointing with frequency 2), about half the memory saving for half the cost;
    ``full``: every block (on the 1B config: activation memory 47 -> 18 GiB for about 20%
    of throughput). Losses are the same as with ``none`` up to float rounding."""

    compile: Any = "auto"
    """``torch.compile`` each transformer block: ``true``, ``false`` or ``auto`` (on for
    CUDA, off on the CPU, where compiling costs more than it saves on small models)."""

    freeze: tuple[str, ...] = ()
    """Parts of the model that do not train: ``[decoder]`` freezes an encoder-decoder's
    decoder (embeddings, self-attention, MLPs, norms, output projection), so only the
    encoder, the cross-attention and the bimodal heads train, as CodeT5+ trains its 2B-16B
    models over a deep decoder from ``model.init_decoder_from``. Frozen parameters get no
    gradient and no optimizer state, and keep their values bit for bit. ``[]`` trains all."""

    meta_init: bool = True
    """Build the model on the ``meta`` device, shard it, then allocate only this rank's
    shards and initialise them (``parallelize.materialize``): no rank ever holds the whole
    model. The weights equal those of building it whole (same seed, any world size)."""

    objective: str = "clm"
    """Training objective by name (see ``training.objectives.OBJECTIVES``), for every
    component not named in ``objective_per_component``."""

    objective_per_component: dict[str, str] = dataclasses.field(default_factory=dict)
    """Objective of named components, overriding ``objective`` for them, e.g.
    ``{code-python: codegen2, text-docs: clm}``. The names must be components of the
    manifest (checked when it is opened). Each sample is transformed by its component's
    objective, and the loss of each objective in use is logged as ``loss/<objective>``."""

    document_mask: bool = False
    """Stop attention across document boundaries inside a packed sequence: each position
    attends only within its own document (the ``<|endoftext|>`` that ends it included),
    with any objective (``training.attention``). Off by default: causal attention then runs
    on SDPA's fast path without a mask tensor."""

    log_every: int = 10
    """Log loss every this many steps (and at the first and last step)."""

    eval_sequences: int = 0
    """Sequences of each component evaluated on and never trained on: whole documents are
    held out by source (a pair's source is the file it was cut from), each component
    choosing enough to fill this many packed sequences (at most half of its tokens) by a
    hash of the source, and every component holding out every chosen source's documents
    (``training.data.holdout``), the same for every seed and run. Training packs the other
    documents, so changing this changes the mixture (a checkpoint then refuses to resume).
    0 holds out nothing and evaluates nothing."""

    eval_every: int = 0
    """Evaluate every this many steps, and at the last step: the causal-LM loss of each
    component's held-out sequences, logged as ``eval/<component>``. 0 evaluates at the last
    step only. Needs ``eval_sequences > 0``."""

    tensorboard: bool = False
    """Also write the logged scalars to TensorBoard event files in ``<output_dir>/tensorboard``
    when ``torch.utils.tensorboard`` can be imported (``pip install tensorboard``); without
    it the run says so in one line and logs to ``metrics.jsonl`` only."""

    output_dir: str = "out/train"
    """Folder for ``metrics.jsonl`` and, by default, checkpoints."""

    checkpoint_dir: str | None = None
    """Folder of checkpoints ``step-NNNNNN/``; None means ``<output_dir>/checkpoints``."""

    checkpoint_every: int = 500
    """Also checkpoint every this many steps; 0 checkpoints only at the end (and when the
    run is asked to stop, ``training.stopping``)."""

    keep_checkpoints: int = 3
    """Keep only this many newest complete checkpoints of the run (older ones are removed
    after each new one); 0 keeps every one."""

    resume_from: str | None = None
    """Checkpoint folder to resume from (model, optimizer, data position); None starts fresh.
    It must come from a run over the same manifest, seed and global batch size."""

    def __post_init__(self) -> None:
        _require(self.steps > 0, f"training.steps must be positive, got {self.steps}")
        _require(self.dtype in DTYPES,
                 f"training.dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        _require(self.activation_checkpointing in ACTIVATION_CHECKPOINTING,
                 f"training.activation_checkpointing must be one of "
                 f"{', '.join(ACTIVATION_CHECKPOINTING)}, got {self.activation_checkpointing!r}")
        _require(isinstance(self.compile, bool) or self.compile == "auto",
                 f"training.compile must be true, false or auto, got {self.compile!r}")
        _require(self.objective in OBJECTIVES,
                 f"training.objective must be one of {', '.join(sorted(OBJECTIVES))}, "
                 f"got {self.objective!r}")
        _require(isinstance(self.objective_per_component, dict),
                 "training.objective_per_component must map component names to objectives, "
                 f"got {self.objective_per_component!r}")
        for component, objective in self.objective_per_component.items():
            _require(objective in OBJECTIVES,
                     f"training.objective_per_component.{component} must be one of "
                     f"{', '.join(sorted(OBJECTIVES))}, got {objective!r}")
        unknown = sorted(set(self.freeze) - set(FREEZABLE))
        _require(not unknown, f"training.freeze: unknown part(s) {unknown} "
                              f"(have: {', '.join(FREEZABLE)})")
        _require(self.log_every > 0, "training.log_every must be positive")
        _require(self.eval_sequences >= 0, "training.eval_sequences must be non-negative")
        _require(self.eval_every >= 0, "training.eval_every must be non-negative")
        _require(self.eval_every == 0 or self.eval_sequences > 0,
                 "training.eval_every needs held-out sequences: set training.eval_sequences")
        _require(self.checkpoint_every >= 0, "training.checkpoint_every must be non-negative")
        _require(self.keep_checkpoints >= 0, "training.keep_checkpoints must be non-negative")
        _require(bool(self.output_dir), "training.output_dir must not be empty")

    def objectives_for(self, components: Sequence[str]) -> dict[str, str]:
        """Each component's objective: its ``objective_per_component`` entry, else
        ``objective``.

        Args:
            components: the manifest's component names.

        Raises:
            ConfigError: ``objective_per_component`` names a component not in ``components``.
        """
        unknown = sorted(set(self.objective_per_component) - set(components))
        if unknown:
            raise ConfigError(f"training.objective_per_component names {unknown[0]!r}, "
                              f"which is not a component of the manifest "
                              f"(have: {', '.join(components)})")
        return {name: self.objective_per_component.get(name, self.objective)
                for name in components}

    @property
    def checkpoint_folder(self) -> str:
        """``checkpoint_dir``, or its default under ``output_dir``."""
        return self.checkpoint_dir or f"{self.output_dir.rstrip('/')}/checkpoints"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ObjectivesConfig:
    """Settings of the objectives; each applies only when its objective is selected."""

    codegen2_clm_probability: float = 0.5
    """``codegen2``: share of sequences trained as plain causal LM (CodeGen2: 0.5)."""

    codegen2_mask_ratio: tuple[float, float] = (0.05, 0.5)
    """``codegen2``: bounds of the uniform per-document share of tokens masked."""

    codegen2_max_spans: int = 32
    """``codegen2``: most masked spans per document (at most the 32 ``<mask_k>`` tokens)."""

    fim_rate: float = 0.5
    """``fim``: share of sequences that get fill-in-the-middle (the rest: causal LM)."""

    fim_spm_rate: float = 0.5
    """``fim``: share of FIM documents laid out suffix-prefix-middle (the rest: PSM)."""

    bimodal_text_to_code_rate: float = 0.5
    """``bimodal``: share of complete docstring/code pairs laid out text->code (docstring
    given, loss on the code); the rest are code->text (``training.objectives.bimodal``)."""

    bimodal_generation: float = 1.0
    """``bimodal``: weight of its examples' generation loss: in the step's per-token mean
    each of their predicted tokens counts this many times, every other objective's once."""

    bimodal_contrastive: float = 1.0
    """``bimodal``: weight of the text-code contrastive loss (symmetric InfoNCE, mean per
    pair) added to the step's loss (``training.bimodal``)."""

    bimodal_matching: float = 1.0
    """``bimodal``: weight of the text-code matching loss (binary cross entropy, mean per
    pair) added to the step's loss; 0 skips the matching pass."""

    contrastive_temperature: float = 0.07
    """``bimodal``: InfoNCE temperature; cosine similarities are divided by it."""

    bimodal_embedding_dim: int = 256
    """``bimodal``: width of the contrastive projection head (CodeT5+: 256). The model has
    the bimodal heads only when some component trains with ``bimodal``."""

    syntax_spans: bool = False
    """``codegen2`` masks whole top-level definitions and ``fim`` makes one its middle, where
    a document's shard metadata has them (the build's ``spans``); others keep random spans."""

    def __post_init__(self) -> None:
        for name in ("codegen2_clm_probability", "fim_rate", "fim_spm_rate",
                     "bimodal_text_to_code_rate"):
            value = getattr(self, name)
            _require(0.0 <= value <= 1.0, f"objectives.{name} must be in [0, 1], got {value}")
        for name in ("bimodal_generation", "bimodal_contrastive", "bimodal_matching"):
            value = getattr(self, name)
            _require(value >= 0.0, f"objectives.{name} must be non-negative, got {value}")
        _require(self.contrastive_temperature > 0.0, "objectives.contrastive_temperature "
                 f"must be positive, got {self.contrastive_temperature}")
        _require(self.bimodal_embedding_dim > 0, "objectives.bimodal_embedding_dim must be "
                 f"positive, got {self.bimodal_embedding_dim}")
        low, high = self.codegen2_mask_ratio
        _require(0.0 < low <= high < 1.0, "objectives.codegen2_mask_ratio must satisfy "
                 f"0 < low <= high < 1, got {self.codegen2_mask_ratio}")
        _require(1 <= self.codegen2_max_spans <= 32,
                 f"objectives.codegen2_max_spans must be in [1, 32], got {self.codegen2_max_spans}")

    def options(self, objective: str) -> dict[str, Any]:
        """The keyword settings ``training.objectives.transform`` passes to ``objective``."""
        if objective == "codegen2":
            return {"clm_probability": self.codegen2_clm_probability,
                    "mask_ratio": self.codegen2_mask_ratio,
                    "max_spans": self.codegen2_max_spans, "syntax_spans": self.syntax_spans}
        if objective == "fim":
            return {"fim_rate": self.fim_rate, "spm_rate": self.fim_spm_rate,
                    "syntax_spans": self.syntax_spans}
        if objective == "bimodal":
            return {"text_to_code_rate": self.bimodal_text_to_code_rate}
        return {}


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """A whole training run."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    """The network."""

    data: DataConfig
    """The corpus and batching."""

    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    """Optimizer and learning-rate schedule."""

    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    """Run length, precision, logging, checkpoints."""

    objectives: ObjectivesConfig = dataclasses.field(default_factory=ObjectivesConfig)
    """Settings of the objectives (rates, ratios)."""

    def __post_init__(self) -> None:
        # An encoder-decoder trains only on (encoder input, decoder target) examples and a
        # decoder only on single sequences: a mismatch has no meaning, so it is refused
        # (``bimodal`` has a layout for each).
        run = self.training
        named = [("training.objective", run.objective),
                 *((f"training.objective_per_component.{component}", objective)
                   for component, objective in run.objective_per_component.items())]
        kinds = ", ".join(sorted(ENCODER_DECODER_OBJECTIVES))
        for key, objective in named:
            if self.model.encoder_decoder:
                _require(objective in ENCODER_DECODER_OBJECTIVES,
                         f"{key} {objective!r} trains a decoder-only model; "
                         f"model.architecture encoder_decoder trains with {kinds}")
            else:
                _require(objective not in SEQ2SEQ_OBJECTIVES,
                         f"{key} {objective!r} needs model.architecture: encoder_decoder")
        _require(self.model.encoder_decoder or not run.freeze,
                 "training.freeze: [decoder] needs model.architecture: encoder_decoder "
                 "(frozen, a decoder-only model would have nothing left to train)")
        _require(not (self.model.encoder_decoder and run.document_mask),
                 "training.document_mask applies to decoder-only models (an encoder-decoder "
                 "attends across its whole window, as T5 does with packed examples)")

    @property
    def embedding_dim(self) -> int:
        """Width of the model's contrastive embedding (``ModelArgs.embedding_dim``):
        ``objectives.bimodal_embedding_dim`` when the config names a pair objective
        (``bimodal``), else 0: the model then has no bimodal heads."""
        named = {self.training.objective, *self.training.objective_per_component.values()}
        return self.objectives.bimodal_embedding_dim if named & PAIR_OBJECTIVES else 0


_SECTIONS: dict[str, type] = {f.name: typing.get_type_hints(TrainConfig)[f.name]
                               for f in dataclasses.fields(TrainConfig)}


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Set ``section.key=value`` in a raw config mapping; the value is a YAML scalar."""
    key, sep, text = override.partition("=")
    _require(bool(sep), f"override {override!r} is not KEY=VALUE")
    parts = key.strip().split(".")
    _require(len(parts) == 2 and all(parts),
             f"override key {key!r} must be SECTION.KEY, e.g. training.steps")
    section, name = parts
    _require(section in _SECTIONS, f"unknown key '{key}'")
    _require(name in {f.name for f in dataclasses.fields(_SECTIONS[section])},
             f"unknown key '{key}'")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {key}: value {text!r} is not YAML "
                          f"({str(err).splitlines()[0]})") from None
    body = raw.setdefault(section, {})
    if body is None:
        body = raw[section] = {}
    _require(isinstance(body, dict), f"{section} must be a mapping")
    body[name] = value


def load_config(path: str, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a YAML training config and apply overrides.

    Args:
        path: the YAML file (local path).
        overrides: ``section.key=value`` strings applied in order after the file, e.g.
            ``["training.steps=20", "optim.lr=1e-3"]``; values are parsed as YAML scalars
            (``null`` gives None).

    Returns:
        The validated ``TrainConfig``.

    Raises:
        ConfigError: one line naming the file and the problem, e.g.
            ``demo-train.yaml: unknown key 'optim.lrr'``.
    """
    return config_from_dict(read_yaml(path), overrides, path)


def config_from_dict(raw: Any, overrides: list[str] | tuple[str, ...] = (),
                     path: str = "config") -> TrainConfig:
    """``load_config`` for a config already parsed (e.g. the one a checkpoint stores);
    ``path`` names it in errors."""
    raw = {} if raw is None else copy.deepcopy(raw)
    try:
        _require(isinstance(raw, dict), "top level must be a mapping of sections")
        for key in raw:
            _require(key in _SECTIONS, f"unknown key '{key}'")
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    for override in overrides:
        try:
            apply_override(raw, override)
        except ConfigError as err:
            raise ConfigError(f"--set {override}: {err}") from None
    try:
        _require(isinstance(raw.get("data"), dict) and "manifest" in raw["data"],
                 "data.manifest is required")
        return build(TrainConfig, raw)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """The resolved config as plain JSON values, which ``config_from_dict`` reads back."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        raise ConfigError(f"{self.prog}: {message}")


def parse_argv(argv: list[str] | None) -> argparse.Namespace:
    """Parse the trainer's command line: ``CONFIG.yaml [--set key=value ...]``.

    Raises:
        ConfigError: the arguments do not parse (one line, not argparse's exit).
    """
    parser = _ArgumentParser(prog="training.train",
                             description="Train a codemix model from a manifest.")
    parser.add_argument("config", help="training config YAML, e.g. configs/demo-train.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config value, e.g. --set training.steps=20")
    return parser.parse_args(argv)
