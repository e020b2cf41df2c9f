"""Per-rank batches: step ``s`` is global samples ``[s * G, (s + 1) * G)``.

Rank ``r`` of ``W`` takes the contiguous slice ``[s * G + r * G / W, s * G + (r + 1) * G / W)``
of the global batch, so the ranks of one step partition it and the data position is a
single integer (the step) that any world size dividing ``G`` can resume from. Each sample is
looked up in the mixture sampler, read from its packed component and transformed by its
component's objective, all pure functions of (seed, sample index). A batch says which
objective made each example, so the trainer can log the loss per objective, and carries the
prefix lengths only when some example has one, so the trainer builds an attention mask only
when it is needed (``training.attention``). Likewise it carries the docstring/code pairs
only when some rank's part of the step's batch comes from a component trained with a pair
objective (``bimodal``), so only those micro-batches get the contrastive and matching
passes (``training.bimodal``), on every rank together.

An encoder-decoder's objectives (``ENCODER_DECODER_OBJECTIVES``) make examples of varying
lengths; ``collate_seq2seq`` pads every batch to the run's fixed lengths
(``seq2seq_lengths``): the encoder's ids with the real length of each row, which the model
hides the padding by, and the decoder's inputs, its targets shifted right after a start
token (teacher forcing). Its pairs (``bimodal``) are positions in the encoder's ids
followed by the decoder's, where ``training.bimodal`` reads each pair's two sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
from tokenizers import Tokenizer

from tokenizer.special_tokens import SpecialIds
from training.config import ConfigError
from training.data.holdout import Sequences
from training.data.sampler import MixtureSampler
from training.objectives import (ENCODER_DECODER_OBJECTIVES, PAIR_OBJECTIVES,
                                  SEQ2SEQ_OBJECTIVES, Example, Seq2SeqExample,
                                  seq2seq_lengths, transform)
from training.objectives.example import IGNORE_INDEX


class Batch(NamedTuple):
    """One rank's examples of one step, stacked.

    Attributes:
        inputs: int64 ``[G / W, seq_len]`` token ids (the encoder's ``[G / W, enc_len]``
            for an encoder-decoder).
        targets: int64 ``[G / W, seq_len]`` ids to predict, ``IGNORE_INDEX`` for no loss
            (the decoder's ``[G / W, dec_len]`` for an encoder-decoder).
        group: int64 ``[G / W]``: which group each example belongs to, an index into the
            names the batch's maker gives (``MixtureLoader.objective_names``: the objective
            that made it).
        prefix: int64 ``[G / W]`` bidirectional prefix lengths (``Example.prefix``), or
            None when every example is plain causal (no prefix above 1).
        pairs: int64 ``[P, 5]``: ``(row, text_start, text_end, code_start, code_end)`` of
            each complete docstring/code pair of the rows (``Example.pairs``; ``P`` may be
            0), or None when the batch gets no bimodal passes. Positions in ``inputs``;
            for an encoder-decoder in ``torch.cat([inputs, decoder_inputs], dim=1)``
            (``joined``).
        decoder_inputs: int64 ``[G / W, dec_len]``: an encoder-decoder's decoder ids; None
            for a decoder-only model.
        encoder_lengths: int64 ``[G / W]``: real (unpadded) ids of each row of ``inputs``;
            with ``decoder_inputs`` only.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    group: torch.Tensor
    prefix: torch.Tensor | None = None
    pairs: torch.Tensor | None = None
    decoder_inputs: torch.Tensor | None = None
    encoder_lengths: torch.Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        """The same batch on ``device``."""
        return Batch(*(None if t is None else t.to(device) for t in self))

    @property
    def joined(self) -> torch.Tensor:
        """The ids ``pairs`` index: ``inputs``, followed by an encoder-decoder's
        ``decoder_inputs``."""
        if self.decoder_inputs is None:
            return self.inputs
        return torch.cat([self.inputs, self.decoder_inputs], dim=1)


def collate(examples: list[Example], groups: list[int], *, paired: bool = False) -> Batch:
    """Stack examples (all of one length) into a ``Batch``; ``groups[i]`` is example ``i``'s
    group. ``paired``: gather the examples' pairs (``Batch.pairs``), else None."""
    prefix = np.array([e.prefix for e in examples], dtype=np.int64)
    pairs = None
    if paired:  # [row, *pair] for every example's pairs
        rows = [np.c_[np.full(len(e.pairs), row), e.pairs]
                for row, e in enumerate(examples) if e.pairs is not None]
        pairs = torch.from_numpy(np.concatenate([np.zeros((0, 5), np.int64), *rows]))
    return Batch(inputs=torch.from_numpy(np.stack([e.inputs for e in examples])),
                 targets=torch.from_numpy(np.stack([e.targets for e in examples])),
                 group=torch.tensor(groups, dtype=torch.int64),
                 # A prefix of 0 or 1 is causal attention: no mask is needed for it.
                 prefix=torch.from_numpy(prefix) if (prefix > 1).any() else None,
                 pairs=pairs)


def collate_seq2seq(examples: list[Seq2SeqExample], groups: list[int], *,
                    lengths: tuple[int, int], start: int, paired: bool = False) -> Batch:
    """Pad encoder-decoder examples to ``lengths`` and stack them into a ``Batch``.

    Args:
        examples: the examples; none longer than ``lengths``.
        groups: ``groups[i]`` is example ``i``'s group.
        lengths: ``(enc_len, dec_len)``: the run's fixed lengths (``seq2seq_lengths``).
        start: the id the decoder starts from (``<|endoftext|>``, as a document starts in
            the packed data the decoder-only models see); it also fills the padding, which
            is hidden (encoder) or comes after every real position and takes no loss
            (decoder), so its value does not matter.

    Returns:
        ``Batch`` with ``inputs`` the encoder ids, ``encoder_lengths`` their real lengths,
        ``decoder_inputs`` ``start`` then the targets but the last, and ``targets`` the
        targets with ``IGNORE_INDEX`` where an example's ``no_loss`` marks them and on
        padding.
    """
    enc_len, dec_len = lengths
    rows = len(examples)
    inputs = np.full((rows, enc_len), start, dtype=np.int64)
    decoder = np.full((rows, dec_len), start, dtype=np.int64)
    targets = np.full((rows, dec_len), IGNORE_INDEX, dtype=np.int64)
    for row, e in enumerate(examples):
        inputs[row, :len(e.inputs)] = e.inputs
        decoder[row, 1:len(e.targets)] = e.targets[:-1]
        targets[row, :len(e.targets)] = e.targets
        if e.no_loss is not None:
            targets[row, :len(e.targets)][e.no_loss] = IGNORE_INDEX
    pairs = None
    if paired:
        # A position in np.r_[inputs, targets] past the inputs is a target's, which the
        # decoder is fed one later: at enc_len + 1 + its index in the targets.
        rows = [np.c_[np.full(len(e.pairs), row),
                      np.where(e.pairs < len(e.inputs), e.pairs,
                               e.pairs - len(e.inputs) + enc_len + 1)]
                for row, e in enumerate(examples) if e.pairs is not None]
        pairs = torch.from_numpy(np.concatenate([np.zeros((0, 5), np.int64), *rows]))
    return Batch(inputs=torch.from_numpy(inputs), targets=torch.from_numpy(targets),
                 group=torch.tensor(groups, dtype=torch.int64), pairs=pairs,
                 decoder_inputs=torch.from_numpy(decoder),
                 encoder_lengths=torch.tensor([len(e.inputs) for e in examples],
                                              dtype=torch.int64))


def rank_slice(step: int, global_batch_size: int, rank: int, world_size: int) -> range:
    """Global sample indices of ``rank``'s part of step ``step``'s batch.

    Args:
        step: optimizer step, from 0.
        global_batch_size: sequences per step over all ranks (``G``).
        rank: this rank, in ``[0, world_size)``.
        world_size: number of ranks ``W``; must divide ``G``.

    Returns:
        A contiguous range of ``G / W`` sample indices.
    """
    if global_batch_size % world_size:
        raise ConfigError(f"data.global_batch_size ({global_batch_size}) must be divisible "
                          f"by the number of processes ({world_size})")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside [0, {world_size})")
    local = global_batch_size // world_size
    start = step * global_batch_size + rank * local
    return range(start, start + local)


class MixtureLoader:
    """Batches of one rank, step after step.

    Args:
        sampler: the mixture sampler (plan and seed).
        components: packed sequences by component name (every name of the plan): whole
            components, or their training parts (``training.data.holdout.split``).
        global_batch_size: sequences per step over all ranks.
        rank: this process's rank.
        world_size: number of processes; must divide ``global_batch_size``.
        objectives: component name -> objective name (``training.objectives.OBJECTIVES``),
            for every component of the plan (``TrainingConfig.objectives_for``).
        tokenizer: the corpus's tokenizer, for objectives that re-encode text
            (``training.objectives.TOKENIZER_OBJECTIVES``); None when no objective needs it.
        options: objective name -> its settings (``ObjectivesConfig.options``); an objective
            not named keeps its defaults.
        specials: the corpus's special ids (``Corpus.specials_for``); None is the codemix
            layout.
        encoder_decoder: make encoder-decoder examples (``model.architecture``), of the
            objectives in ``ENCODER_DECODER_OBJECTIVES``; else decoder-only ones, of the
            others and ``bimodal``.
    """

    def __init__(self, sampler: MixtureSampler, components: Mapping[str, Sequences], *,
                 global_batch_size: int, rank: int, world_size: int,
                 objectives: Mapping[str, str], tokenizer: Tokenizer | None = None,
                 options: Mapping[str, Mapping[str, Any]] | None = None,
                 specials: SpecialIds | None = None, encoder_decoder: bool = False):
        rank_slice(0, global_batch_size, rank, world_size)  # validates G, W and rank
        missing = sorted(set(sampler.plan.names) - set(objectives))
        if missing:
            raise ValueError(f"no objective for component {missing[0]!r}")
        self.sampler = sampler
        self.components = components
        self.global_batch_size = global_batch_size
        self.rank = rank
        self.world_size = world_size
        self.objectives = dict(objectives)
        self.objective_names = tuple(sorted(set(self.objectives.values())))
        self.tokenizer = tokenizer
        self.options = {name: dict(o) for name, o in (options or {}).items()}
        self.specials = specials or SpecialIds.default()
        self.paired_components = frozenset(
            name for name, objective in self.objectives.items() if objective in PAIR_OBJECTIVES)
        unfit = sorted(set(self.objective_names) - ENCODER_DECODER_OBJECTIVES if encoder_decoder
                       else SEQ2SEQ_OBJECTIVES & set(self.objective_names))
        if unfit:  # the config refuses it first (``TrainConfig``)
            raise ValueError(f"objective {unfit[0]!r} does not train "
                             f"{'an encoder-decoder' if encoder_decoder else 'a decoder'}")
        self.seq2seq = encoder_decoder
        self.step = 0

    def example(self, objective: str, tokens: np.ndarray, index: int, *,
                no_loss: np.ndarray | None = None, spans: np.ndarray | None = None
                ) -> Example | Seq2SeqExample:
        """Global sample ``index``'s ``tokens`` (one packed sequence) as ``objective``
        makes them into an example, with this run's seed, tokenizer, special ids and
        settings; ``no_loss`` and ``spans`` are the sequence's (``PackedSequence``)."""
        return transform(objective, tokens, seed=self.sampler.seed, index=index,
                         tokenizer=self.tokenizer, specials=self.specials,
                         options=self.options.get(objective), no_loss=no_loss, spans=spans,
                         encoder_decoder=self.seq2seq)

    def batch(self, step: int) -> Batch:
        """This rank's ``Batch`` of step ``step``; its groups index ``objective_names``."""
        examples, groups = [], []
        for index in rank_slice(step, self.global_batch_size, self.rank, self.world_size):
            name, seq = self.sampler.sample(index)
            objective = self.objectives[name]
            packed = self.components[name][seq]
            examples.append(self.example(objective, packed.tokens, index,
                                         no_loss=packed.no_loss, spans=packed.spans))
            groups.append(self.objective_names.index(objective))
        if self.seq2seq:
            return self.collate_seq2seq(examples, groups, window=len(packed.tokens),
                                        paired=self.paired(step))
        return collate(examples, groups, paired=self.paired(step))

    def collate_seq2seq(self, examples: list[Seq2SeqExample], groups: list[int], *,
                        window: int, objectives: tuple[str, ...] | None = None,
                        paired: bool = False) -> Batch:
        """``collate_seq2seq`` with this run's lengths for ``window``-token sequences (the
        longest of ``objectives``, default the run's) and start id (``<|endoftext|>``);
        ``paired``: gather the examples' pairs."""
        lengths = seq2seq_lengths(objectives or self.objective_names, window, self.specials)
        return collate_seq2seq(examples, groups, lengths=lengths, start=self.specials.eot,
                               paired=paired)

    def paired(self, step: int) -> bool:
        """Whether any rank's part of step ``step``'s batch comes from a component trained
        with a pair objective; every rank's batch then carries its pairs. A function of the
        sampler alone, so all ranks agree without communicating."""
        first = step * self.global_batch_size
        return bool(self.paired_components) and any(
            self.sampler.sample(index)[0] in self.paired_components
            for index in range(first, first + self.global_batch_size))

    def next_batch(self) -> Batch:
        """The batch of the current step, then advance the step."""
        out = self.batch(self.step)
        self.step += 1
        return out

    def state_dict(self) -> dict[str, Any]:
        """The data position: next step and the global batch size it is counted in."""
        return {"step": self.step, "global_batch_size": self.global_batch_size}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a saved position; the global batch size must be the same."""
        if state["global_batch_size"] != self.global_batch_size:
            raise ValueError(f"data position was saved with global_batch_size "
                             f"{state['global_batch_size']}, this run uses "
                             f"{self.global_batch_size}")
        self.step = int(state["step"])
