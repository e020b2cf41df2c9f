"""Training objectives, chosen by name.

An objective turns one packed sequence of ``seq_len + 1`` token ids into model inputs and
targets of ``seq_len`` ids each. Every objective has the same signature::

    fn(tokens: np.ndarray, *, seed: int, index: int, specials: SpecialIds) -> Example

``specials`` holds the corpus's special ids (``Corpus.specials``, from the manifest; the
codemix layout by default), so an objective inserts and finds ``<|endoftext|>``, ``<sep>``,
``<mask_k>`` ... by the ids the corpus's tokenizer gives them. An objective can only run on
a corpus whose tokenizer has its ``REQUIRED_TOKENS`` (``missing_tokens`` says which it
lacks). Objectives that re-encode text (those in ``TOKENIZER_OBJECTIVES``) also take the
corpus's ``tokenizer`` keyword, which ``transform`` passes to them only, so the others keep
the shared signature.

Every objective also takes ``no_loss`` (``PackedSequence.no_loss``: tokens the build marked,
a license header or redaction placeholders; None for none) and gives those tokens
``IGNORE_INDEX`` targets wherever it moves them. The objectives in ``SPAN_OBJECTIVES`` also
take ``spans`` (``PackedSequence.spans``: the top-level definitions in the window), which
they use with their ``syntax_spans`` option (``objectives.syntax_spans``) to mask or infill
whole definitions.

``seed`` and ``index`` (the global sample index) are the only source of randomness, so an
objective is a pure function and a resumed run transforms each sample exactly as before
(T5's ``random_spans_noise_mask`` with explicit seeds, not a carried RNG). Targets hold
``IGNORE_INDEX`` where no loss is taken; every objective shares the one loss in
``training.objectives.loss``. Objectives so far:

- ``clm`` (``clm.py``): next-token prediction over the packed sequence;
- ``codegen2`` (``span.py``): CodeGen2's mixture, per sequence causal LM with probability
  0.5, else file-level span corruption in the ``<mask_k>`` / ``<sep>`` / ``<eom>`` infill
  format;
- ``prefix_lm`` (``prefix_lm.py``): bidirectional attention over a prefix drawn per
  sequence, causal after it, loss on the rest (``Example.prefix`` carries the split);
- ``fim`` (``fim.py``): fill-in-the-middle, per sequence causal LM with probability 0.5, else
  every document split at two characters and laid out as PSM or SPM;
- ``bimodal`` (``bimodal.py``): CodeT5+'s text->code / code->text generation on the
  ``docstring <sep> code`` pairs of a window, loss on the generated side only; its
  ``Example.pairs`` feed the contrastive and matching losses (``training.bimodal``).

For encoder-decoders (``SEQ2SEQ_OBJECTIVES``; the only ones an encoder-decoder trains
with, and only it does), with the same signature:

- ``t5_span`` (``t5_span.py``): T5's span denoising, the encoder reads the window with
  spans replaced by ``<mask_k>`` sentinels, the decoder generates sentinels and spans;
- ``seq2seq_lm`` (``seq2seq_lm.py``): CodeT5+'s causal LM, the window split at a pivot,
  the encoder reads the left part and the decoder generates the rest.

They return a ``Seq2SeqExample`` (encoder inputs, decoder targets, of lengths that vary
with the draw up to ``seq2seq_lengths``); the loader pads a batch of them to those lengths.
Both architectures train with ``bimodal``: ``ENCODER_DECODER_LAYOUTS`` holds its
encoder-decoder function (one pair per example, ``bimodal.bimodal_seq2seq``), which
``transform`` picks with ``encoder_decoder=True``.

How positions attend (causal, a prefix, documents kept apart) is not an objective's
business beyond ``Example.prefix``: ``training.attention`` builds it.

This package imports numpy and the tokenizer only (not torch), so configs can be validated
without torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from tokenizer.special_tokens import ENDOFTEXT, SpecialIds, mask_token
from training.objectives.bimodal import REQUIRED_TOKENS as PAIR_TOKENS
from training.objectives.bimodal import bimodal, bimodal_seq2seq
from training.objectives.bimodal import seq2seq_lengths as bimodal_lengths
from training.objectives.clm import causal_lm
from training.objectives.example import IGNORE_INDEX, Example, Seq2SeqExample
from training.objectives.fim import REQUIRED_TOKENS as FIM_TOKENS
from training.objectives.fim import fim
from training.objectives.prefix_lm import prefix_lm
from training.objectives.seq2seq_lm import lengths as seq2seq_lm_lengths
from training.objectives.seq2seq_lm import seq2seq_lm
from training.objectives.span import REQUIRED_TOKENS as INFILL_TOKENS
from training.objectives.span import codegen2
from training.objectives.t5_span import lengths as t5_span_lengths
from training.objectives.t5_span import t5_span

Objective = Callable[..., Example | Seq2SeqExample]

OBJECTIVES: dict[str, Objective] = {
    "clm": causal_lm,
    "codegen2": codegen2,
    "fim": fim,
    "prefix_lm": prefix_lm,
    "bimodal": bimodal,
    "t5_span": t5_span,
    "seq2seq_lm": seq2seq_lm,
}
"""Objective name -> function; the name is what ``training.objective`` in a config selects."""

SEQ2SEQ_OBJECTIVES = frozenset({"t5_span", "seq2seq_lm"})
"""Objectives for an encoder-decoder only (``model.architecture: encoder_decoder``): they
return a ``Seq2SeqExample``; the others return an ``Example`` for a decoder-only model, and
those of ``ENCODER_DECODER_LAYOUTS`` a ``Seq2SeqExample`` too."""

ENCODER_DECODER_LAYOUTS: dict[str, Objective] = {"bimodal": bimodal_seq2seq}
"""Objectives both architectures train with -> the function that makes an encoder-decoder's
example (``OBJECTIVES`` has the decoder-only one)."""

ENCODER_DECODER_OBJECTIVES = SEQ2SEQ_OBJECTIVES | frozenset(ENCODER_DECODER_LAYOUTS)
"""Every objective an encoder-decoder trains with."""

_SEQ2SEQ_LENGTHS: dict[str, Callable[[int, SpecialIds], tuple[int, int]]] = {
    "t5_span": lambda n, specials: t5_span_lengths(n, max_spans=len(specials.masks)),
    "seq2seq_lm": lambda n, specials: seq2seq_lm_lengths(n),
    "bimodal": lambda n, specials: bimodal_lengths(n),
}

TOKENIZER_OBJECTIVES = frozenset({"fim"})
"""Objectives that decode and re-encode text, and so take a ``tokenizer`` keyword."""

SPAN_OBJECTIVES = frozenset({"codegen2", "fim"})
"""Objectives that can place their spans on top-level definitions, and so take ``spans``."""

PAIR_OBJECTIVES = frozenset({"bimodal"})
"""Objectives whose examples carry ``pairs``: a batch holding one gets the contrastive and
matching passes (``training.bimodal``)."""

REQUIRED_TOKENS: dict[str, tuple[str, ...]] = {
    "clm": (ENDOFTEXT,),
    "codegen2": (ENDOFTEXT, *INFILL_TOKENS),
    "fim": (ENDOFTEXT, *FIM_TOKENS),
    "prefix_lm": (ENDOFTEXT,),
    "bimodal": (ENDOFTEXT, *PAIR_TOKENS),
    "t5_span": (ENDOFTEXT, mask_token(1)),
    "seq2seq_lm": (ENDOFTEXT,),
}
"""Objective name -> the special tokens it needs the corpus's tokenizer to have
(``<|endoftext|>`` separates the packed documents for all of them)."""


def missing_tokens(names: Iterable[str], specials: SpecialIds) -> list[str]:
    """Special tokens the objectives called ``names`` need and ``specials`` lacks.

    Args:
        names: keys of ``OBJECTIVES``.
        specials: the corpus's special ids (``Corpus.specials``).

    Returns:
        The missing tokens, each once, in the order the objectives need them.
    """
    needed = dict.fromkeys(t for name in names for t in REQUIRED_TOKENS[name])
    return specials.missing(needed)


def seq2seq_lengths(names: Iterable[str], n: int, specials: SpecialIds) -> tuple[int, int]:
    """The encoder and decoder lengths that hold every example the encoder-decoder
    objectives ``names`` make of an ``n``-token window: each the longest any of them makes,
    so every batch of a run has one shape (one compiled graph) whatever the draws.

    Args:
        names: members of ``ENCODER_DECODER_OBJECTIVES``.
        n: tokens in a window (``data.seq_len + 1``).
        specials: the corpus's special ids (``t5_span`` has a span per sentinel at most).
    """
    shapes = [_SEQ2SEQ_LENGTHS[name](n, specials) for name in names]
    return max(s[0] for s in shapes), max(s[1] for s in shapes)


def transform(name: str, tokens: np.ndarray, *, seed: int, index: int,
              tokenizer: Tokenizer | None = None, specials: SpecialIds | None = None,
              options: Mapping[str, Any] | None = None, no_loss: np.ndarray | None = None,
              spans: np.ndarray | None = None, encoder_decoder: bool = False
              ) -> Example | Seq2SeqExample:
    """Apply the objective called ``name`` to one packed sequence.

    Args:
        name: a key of ``OBJECTIVES``.
        tokens: ``seq_len + 1`` token ids (one packed sequence).
        seed: the run's seed (``data.seed``).
        index: the global sample index of this sequence (spans epochs).
        tokenizer: the tokenizer ``tokens`` were encoded with; required by the objectives
            in ``TOKENIZER_OBJECTIVES``, not passed to the others.
        specials: the special ids of that tokenizer (``Corpus.specials``); None is the
            codemix layout. Must have the objective's ``REQUIRED_TOKENS``.
        options: keyword settings of this objective (``ObjectivesConfig.options``), e.g.
            ``{"fim_rate": 0.5}``; None keeps the objective's defaults.
        no_loss: bool, one per token of ``tokens``: True where the token takes no loss
            (``PackedSequence.no_loss``); None for none.
        spans: int64 ``[k, 2]`` window positions of top-level definitions
            (``PackedSequence.spans``); passed to the objectives in ``SPAN_OBJECTIVES``
            only; None for none.
        encoder_decoder: make an encoder-decoder's example, with the function of
            ``ENCODER_DECODER_LAYOUTS`` for an objective both architectures train with.

    Returns:
        The ``Example``: inputs and targets, ``seq_len`` ids each, and its prefix; a
        ``Seq2SeqExample`` for the objectives in ``SEQ2SEQ_OBJECTIVES``, and for those of
        ``ENCODER_DECODER_LAYOUTS`` with ``encoder_decoder``.

    Raises:
        ValueError: an unknown name, or no ``tokenizer`` for an objective that needs one.
    """
    try:
        fn = OBJECTIVES[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r} "
                         f"(have: {', '.join(sorted(OBJECTIVES))})") from None
    if encoder_decoder:
        fn = ENCODER_DECODER_LAYOUTS.get(name, fn)
    settings = dict(options or {})
    settings["specials"] = specials or SpecialIds.default()
    settings["no_loss"] = no_loss
    if name in SPAN_OBJECTIVES:
        settings["spans"] = spans
    if name not in TOKENIZER_OBJECTIVES:
        return fn(tokens, seed=seed, index=index, **settings)
    if tokenizer is None:
        raise ValueError(f"objective {name!r} re-encodes text and needs the tokenizer")
    return fn(tokens, seed=seed, index=index, tokenizer=tokenizer, **settings)


__all__ = ["ENCODER_DECODER_LAYOUTS", "ENCODER_DECODER_OBJECTIVES", "IGNORE_INDEX",
           "OBJECTIVES", "PAIR_OBJECTIVES", "REQUIRED_TOKENS", "SEQ2SEQ_OBJECTIVES",
           "SPAN_OBJECTIVES", "TOKENIZER_OBJECTIVES", "Example", "Seq2SeqExample",
           "missing_tokens", "seq2seq_lengths", "transform"]
