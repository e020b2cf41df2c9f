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

With ``syntax_spans`` (``objectives.syntax_spans``), a document that has top-level
definitions in the window (``PackedSequence.spans``, from the parse stage) gets one of them,
drawn uniformly, as its middle instead of two random cuts: function-level FIM, the model
writes a whole function given the file around it. Documents without definitions keep the
character cuts.

Tokens the build marked ``no_loss`` (``PackedSequence.no_loss``: a license header, redaction
placeholders) take no loss here too, although the text is re-encoded: the mask's edges are
token boundaries that fall between characters (the build cut the text there), so they map to
character offsets, and each part is cut again at them and its pieces encoded on their own,
as the build encoded them; the tokens of a masked piece keep the mark. A document whose
mask edges do not fall between characters keeps its tokens and its mask, as below.

Documents that are empty, or whose tokens do not decode to text (a window cut through a
multi-byte character decodes to U+FFFD), keep their tokens: their text is not known, so
re-encoding it would change the document. Documents never hold special ids
(``tokenizer.encode`` encodes special-token strings as text), so the layout is unambiguous.

Trade-off: the three sentinels and encoding three parts apart lengthen a document by a few
tokens, and the Example keeps ``seq_len``, so the transformed sequence is cut to the window
(as ``codegen2`` does): the window's last tokens, often the end of its last document's
middle, are not trained on in this sample. A sequence that comes out shorter (re-encoding a
window-cut piece can merge tokens) is padded with ``<fim_pad>``, which takes no loss. Loss
is taken on every other token, sentinels included, except the ``no_loss`` ones. Each epoch
draws afresh, because ``index`` (the global sample index) differs between epochs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

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
        spm_rate: float = SPM_RATE, syntax_spans: bool = False,
        no_loss: np.ndarray | None = None, spans: np.ndarray | None = None) -> Example:
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
        syntax_spans: make the middle one whole top-level definition (``spans``) where a
            document has any (module docstring); default False: character cuts everywhere.
        no_loss: bool, one per token: True where the token takes no loss
            (``PackedSequence.no_loss``); None for none.
        spans: int64 ``[k, 2]`` window positions of top-level definitions
            (``PackedSequence.spans``); used only with ``syntax_spans``.

    Returns:
        ``Example`` of ``seq_len`` int64 ids each: the next-token shift of ``tokens`` or of
        the transformed sequence cut or padded to ``seq_len + 1`` tokens; loss on every
        target except padding and the tokens ``no_loss`` marks.

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
        return causal_lm(ids, seed=seed, index=index, specials=specials, no_loss=no_loss)
    window = _Tokens(ids, np.zeros(len(ids), bool) if no_loss is None
                     else np.asarray(no_loss, dtype=bool))
    definitions = np.zeros((0, 2), np.int64)
    if syntax_spans and spans is not None:
        definitions = np.asarray(spans, np.int64).reshape(-1, 2)
    sequence = _permute_documents(window, definitions, rng, tokenizer, specials, spm_rate)
    sequence = _Tokens(sequence.ids[:len(ids)], sequence.no_loss[:len(ids)])
    pad = len(ids) - len(sequence.ids)
    example = causal_lm(np.pad(sequence.ids, (0, pad), constant_values=specials.fim_pad),
                        seed=seed, index=index, specials=specials,
                        no_loss=np.pad(sequence.no_loss, (0, pad)))
    if pad:
        example.targets[-pad:] = IGNORE_INDEX
    return example


class _Tokens(NamedTuple):
    """Token ids and their ``no_loss`` mask (bool, one per id), moved together."""

    ids: np.ndarray
    no_loss: np.ndarray


def _concatenate(parts: list[_Tokens]) -> _Tokens:
    """``parts`` back to back (an empty ``_Tokens`` for none)."""
    return _Tokens(np.concatenate([p.ids for p in parts] + [np.zeros(0, np.int64)]),
                   np.concatenate([p.no_loss for p in parts] + [np.zeros(0, bool)]))


def _permute_documents(window: _Tokens, definitions: np.ndarray, rng: np.random.Generator,
                       tokenizer: Tokenizer, specials: SpecialIds,
                       spm_rate: float) -> _Tokens:
    """Every document of ``window`` in FIM layout, rejoined by EOT; not cut to any length.
    ``definitions`` are window positions (``[k, 2]``) of the definitions a middle may be."""
    separators = np.flatnonzero(window.ids == specials.eot)
    starts = np.concatenate([[0], separators + 1])
    stops = np.concatenate([separators, [len(window.ids)]])
    documents = [_Tokens(window.ids[a:b], window.no_loss[a:b]) for a, b in zip(starts, stops)]
    # Draw every document's mode and cuts first, so all pieces are encoded in one batch.
    plans, texts = [], []
    for doc, start, stop in zip(documents, starts, stops):
        inside = definitions[(definitions[:, 0] >= start) & (definitions[:, 1] <= stop)]
        plan = _plan(doc, inside - start, rng, tokenizer, spm_rate)
        plans.append(plan)
        if plan is not None:
            texts += [text for part in plan[1] for text, _ in part]
    encoded = iter(encode_batch(tokenizer, texts))
    eot = _Tokens(np.array([specials.eot], dtype=np.int64), np.zeros(1, bool))
    parts = []
    for i, (doc, plan) in enumerate(zip(documents, plans)):
        if i:
            parts.append(eot)
        if plan is None:
            parts.append(doc)
            continue
        spm, pieces = plan
        prefix, middle, suffix = (_encoded(part, encoded) for part in pieces)
        parts.append(_layout(prefix, middle, suffix, spm, specials))
    return _concatenate(parts)


def _encoded(part: list[tuple[str, bool]], encoded: Iterator[np.ndarray]) -> _Tokens:
    """One part from the next ``len(part)`` encodings, each piece's tokens marked as it is."""
    pieces = []
    for _, masked in part:
        ids = next(encoded).astype(np.int64)
        pieces.append(_Tokens(ids, np.full(len(ids), masked)))
    return _concatenate(pieces)


_Plan = tuple[bool, list[list[tuple[str, bool]]]]
"""One document's draw: SPM or not, and its prefix, middle and suffix as text pieces, each
with whether its tokens take no loss."""


def _plan(doc: _Tokens, definitions: np.ndarray, rng: np.random.Generator,
          tokenizer: Tokenizer, spm_rate: float) -> _Plan | None:
    """Draw one document's mode and middle, or None when it keeps its tokens (no text, or
    mask edges or definitions that do not fall between characters)."""
    text = decode(tokenizer, doc.ids)
    if not text or "\ufffd" in text:
        return None
    masked = _runs(doc.no_loss)
    chars = _char_offsets(tokenizer, doc.ids, text,
                          np.concatenate([masked.ravel(), definitions.ravel()]))
    if chars is None:
        return None
    spm = bool(rng.random() < spm_rate)
    if len(definitions):
        low, high = (chars[int(t)] for t in definitions[rng.integers(len(definitions))])
    else:
        low, high = np.sort(rng.integers(0, len(text) + 1, size=2))
    masked_chars = [(chars[int(a)], chars[int(b)]) for a, b in masked]
    return spm, [_pieces(text, lo, hi, masked_chars)
                 for lo, hi in ((0, low), (low, high), (high, len(text)))]


def _runs(mask: np.ndarray) -> np.ndarray:
    """``[k, 2]`` ``[start, end)`` runs of True in a bool mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return edges.reshape(-1, 2)


def _char_offsets(tokenizer: Tokenizer, ids: np.ndarray, text: str,
                  bounds: np.ndarray) -> dict[int, int] | None:
    """Token position -> character offset in ``text`` of each of ``bounds`` (and of 0 and
    ``len(ids)``), or None when one falls inside a character: the pieces between them
    then do not decode to ``text``."""
    cuts = np.unique(np.concatenate([[0, len(ids)], bounds])).tolist()
    if len(cuts) == 2:  # nothing inside the document
        return {0: 0, len(ids): len(text)}
    pieces = [decode(tokenizer, ids[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    if "".join(pieces) != text:
        return None
    return dict(zip(cuts, np.cumsum([0] + [len(p) for p in pieces]).tolist()))


def _pieces(text: str, lo: int, hi: int,
            masked: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text[lo:hi]`` cut at the edges of the ``masked`` character ranges: the non-empty
    pieces in order, each with whether it lies in one."""
    out, pos = [], lo
    for a, b in masked:
        a, b = max(a, lo), min(b, hi)
        if a >= b:
            continue
        if pos < a:
            out.append((text[pos:a], False))
        out.append((text[a:b], True))
        pos = b
    if pos < hi:
        out.append((text[pos:hi], False))
    return out


def _layout(prefix: _Tokens, middle: _Tokens, suffix: _Tokens, spm: bool,
            specials: SpecialIds) -> _Tokens:
    """One document's parts with the sentinels, in SPM or PSM order (module docstring);
    the sentinels take loss."""
    pre, mid, suf = (_Tokens(np.array([t], dtype=np.int64), np.zeros(1, bool))
                     for t in (specials.fim_prefix, specials.fim_middle, specials.fim_suffix))
    if spm:
        return _concatenate([pre, suf, suffix, mid, prefix, middle])
    return _concatenate([pre, prefix, suf, suffix, mid, middle])
