"""Fill-in-the-middle (FIM): infilling for a left-to-right decoder, in PSM and SPM order.

Bavarian et al. (2022, arXiv:2207.14255) move a random middle span of a document to its
end, so a causal model learns to write a middle given the code before and after it, at no
cost to its left-to-right ability. We follow SantaCoder and StarCoder, which split at the
character level and apply FIM to each document of a packed sequence on its own:

1. Per sequence, a coin with probability ``fim_rate`` (0.5) chooses FIM; otherwise the
   sequence is plain causal LM (``clm``), like CodeGen2's mixture in ``span.py``.
2. A FIM sequence is split at its ``<|endoftext|>`` (EOT) separators and every document is
   transformed on its own, the separators kept between the transformed documents. The
   first and last pieces are usually documents cut by the window; they are transformed like
   whole documents, since the model sees only them.
3. A document's tokens are decoded to text and two cut points are drawn uniformly over its
   character positions ``[0, len(text)]`` and sorted (any part may be empty). A cut falls
   inside a token as often as between two, as a cursor in an editor does.
4. Prefix, middle and suffix are encoded on their own (``tokenizer.encode.encode_batch``)
   and laid out as PSM with probability ``1 - spm_rate``, else as SPM::

       PSM: <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle
       SPM: <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle

   This SPM is StarCoder's (Bavarian et al., appendix D, "variant 2"): the sentinels keep
   PSM's order and prefix then middle follow ``<fim_middle>`` as one left-to-right text, so
   in both modes the model writes the middle after the prefix, having seen the suffix.
   A PSM document with an empty prefix reads exactly as SPM, as it should.

Documents that are empty, or whose tokens do not decode to text (a window cut through a
multi-byte character decodes to U+FFFD), keep their tokens: their text is not known, so
re-encoding it would change the document. Documents never hold special ids
(``tokenizer.encode`` encodes special-token strings as text), so the layout is unambiguous.

Trade-off: the three sentinels and encoding three parts apart lengthen a document by a few
tokens, and the Example keeps ``seq_len``, so the transformed sequence is cut to the window
(as ``codegen2`` does): the window's last tokens, often the end of its last document's
middle, are not trained on in this sample. A sequence that comes out shorter (re-encoding a
window-cut piece can merge tokens) is padded with ``<fim_pad>``, which takes no loss. Loss
is taken on every other token, sentinels included. Each epoch draws afresh, because
``index`` (the global sample index) differs between epochs.
"""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer

from tokenizer.encode import decode, encode_batch
from tokenizer.special_tokens import FIM_MIDDLE, FIM_PAD, FIM_PREFIX, FIM_SUFFIX, SpecialIds
from training.objectives.clm import causal_lm
from training.objectives.example import IGNORE_INDEX, Example

FIM_RATE = 0.5
"""Probability that a sequence is transformed by FIM rather than trained as causal LM."""

SPM_RATE = 0.5
"""Probability that a FIM document is laid out as SPM rather than PSM."""

REQUIRED_TOKENS = (FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD)
"""Special tokens the FIM layout is made of (besides ``<|endoftext|>``)."""

_FIM_SALT = 0xF1A5EC
"""Generator stream of the FIM coin, modes and cut points of one (seed, index)."""


def fim(tokens: np.ndarray, *, seed: int, index: int, tokenizer: Tokenizer,
        specials: SpecialIds = SpecialIds.default(), fim_rate: float = FIM_RATE,
        spm_rate: float = SPM_RATE) -> Example:
    """Causal LM or fill-in-the-middle over one packed sequence.

    Args:
        tokens: ``seq_len + 1`` token ids, documents separated by ``<|endoftext|>``.
        seed: the run's seed; with ``index`` the only source of randomness.
        index: the global sample index; it differs between epochs, so a sequence seen
            again is split afresh.
        tokenizer: the tokenizer ``tokens`` were encoded with; FIM re-encodes text.
        specials: the corpus's special ids (default: the codemix layout); must have
            ``REQUIRED_TOKENS``.
        fim_rate: chance, in [0, 1], that the sequence is transformed (default 0.5).
        spm_rate: chance, in [0, 1], that a transformed document is SPM, not PSM
            (default 0.5).

    Returns:
        ``Example`` of ``seq_len`` int64 ids each: the next-token shift of ``tokens`` or of
        the transformed sequence cut or padded to ``seq_len + 1`` tokens; loss on every
        target except padding.

    Raises:
        ValueError: a rate outside [0, 1], or ``tokens`` not 1-D with at least two ids.
    """
    for name, rate in (("fim_rate", fim_rate), ("spm_rate", spm_rate)):
        if not 0 <= rate <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {rate}")
    ids = np.asarray(tokens, dtype=np.int64)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"tokens must be 1-D with at least 2 ids, got shape {ids.shape}")
    rng = np.random.default_rng([seed, index, _FIM_SALT])
    if rng.random() >= fim_rate:
        return causal_lm(ids, seed=seed, index=index, specials=specials)
    sequence = _permute_documents(ids, rng, tokenizer, specials, spm_rate)[:len(ids)]
    pad = len(ids) - len(sequence)
    example = causal_lm(np.pad(sequence, (0, pad), constant_values=specials.fim_pad),
                        seed=seed, index=index, specials=specials)
    if pad:
        example.targets[-pad:] = IGNORE_INDEX
    return example


def _permute_documents(ids: np.ndarray, rng: np.random.Generator, tokenizer: Tokenizer,
                       specials: SpecialIds, spm_rate: float) -> np.ndarray:
    """Every document of ``ids`` in FIM layout, rejoined by EOT; not cut to any length."""
    separators = np.flatnonzero(ids == specials.eot)
    starts = np.concatenate([[0], separators + 1])
    stops = np.concatenate([separators, [len(ids)]])
    documents = [ids[start:stop] for start, stop in zip(starts, stops)]
    # Draw every document's mode and cuts first, so all parts are encoded in one batch.
    plans, texts = [], []
    for doc in documents:
        text = decode(tokenizer, doc)
        if not text or "\ufffd" in text:
            plans.append(None)
            continue
        spm = bool(rng.random() < spm_rate)
        low, high = np.sort(rng.integers(0, len(text) + 1, size=2))
        plans.append(spm)
        texts += [text[:low], text[low:high], text[high:]]
    encoded = iter(encode_batch(tokenizer, texts))
    eot = np.array([specials.eot], dtype=np.int64)
    parts = []
    for i, (doc, spm) in enumerate(zip(documents, plans)):
        if i:
            parts.append(eot)
        if spm is None:
            parts.append(doc)
        else:
            parts.append(_layout(next(encoded), next(encoded), next(encoded), spm, specials))
    return np.concatenate(parts)


def _layout(prefix: np.ndarray, middle: np.ndarray, suffix: np.ndarray, spm: bool,
            specials: SpecialIds) -> np.ndarray:
    """One document's parts with the sentinels, in SPM or PSM order (module docstring)."""
    pre, mid, suf = specials.fim_prefix, specials.fim_middle, specials.fim_suffix
    if spm:
        pieces = [[pre, suf], suffix, [mid], prefix, middle]
    else:
        pieces = [[pre], prefix, [suf], suffix, [mid], middle]
    return np.concatenate(pieces).astype(np.int64)
