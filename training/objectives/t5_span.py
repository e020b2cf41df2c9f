"""T5 span denoising for encoder-decoders (Raffel et al. 2020, arXiv:1910.10683), as
CodeT5+ (Wang et al. 2023, arXiv:2305.07922, section 3.1) trains its encoder-decoders.

A window of ``n`` tokens loses ``round(n * noise_density)`` of them (clipped to
``[1, n - 1]``) in ``round(noise / mean_span_length)`` spans (at least 1). Span lengths and
the lengths of the kept runs between them are drawn as T5's ``random_spans_noise_mask``
draws them: each count is split uniformly over all compositions into as many positive parts
as there are spans (``span.random_composition``), and the parts interleave kept first, so a
window always starts with kept tokens and, as in T5, always ends with a noise span. The
encoder reads the window with each span replaced by one sentinel, ``<mask_1>``,
``<mask_2>``, ... in order; the decoder generates each sentinel followed by the span it
stands for, then ``<|endoftext|>`` (T5's EOS, so generation knows where to stop)::

    tokens   a b c d e f g h      (spans "c d" and "g h")
    inputs   a b <mask_1> e f <mask_2>
    targets  <mask_1> c d <mask_2> g h <|endoftext|>

Defaults are the paper's: noise density 0.15, mean span length 3. The number of spans is
also capped by the sentinels the tokenizer has (32 ``<mask_k>`` in codemix's) and by the
kept tokens (each span needs a kept run before it); a window of more than about
``32 * 3 / 0.15 = 640`` tokens therefore has longer spans than 3 on average, not more of
them. Every count depends only on ``n`` and the settings, so ``lengths`` gives the shapes
without drawing anything, and a batch of windows of one length has one shape.

The window is denoised as one sequence, ``<|endoftext|>`` separators included, as T5 does
with packed examples. Randomness comes only from ``(seed, index)``. A masked token the build
marked ``no_loss`` keeps that mark in the targets; sentinels and the end take loss.
"""

from __future__ import annotations

import numpy as np

from tokenizer.special_tokens import NUM_MASKS, SpecialIds
from training.objectives.example import Seq2SeqExample
from training.objectives.span import random_composition

NOISE_DENSITY = 0.15
"""Share of a window's tokens that are masked (T5, CodeT5+)."""

MEAN_SPAN_LENGTH = 3.0
"""Mean length of a masked span, in tokens, before the sentinel cap (T5, CodeT5+)."""

_T5_SALT = 0x75BA11
"""Generator stream of the spans of one (seed, index)."""


def span_counts(n: int, *, noise_density: float = NOISE_DENSITY,
                mean_span_length: float = MEAN_SPAN_LENGTH,
                max_spans: int = NUM_MASKS) -> tuple[int, int]:
    """``(noise tokens, spans)`` of an ``n``-token window; no randomness involved.

    Args:
        n: tokens in the window, at least 2.
        noise_density: share of tokens masked, in (0, 1).
        mean_span_length: mean span length before capping, at least 1.
        max_spans: the most spans, one sentinel each (the tokenizer's ``<mask_k>`` count).

    Raises:
        ValueError: settings no window can satisfy, or ``n < 2``.
    """
    if not 0 < noise_density < 1:
        raise ValueError(f"noise_density must be in (0, 1), got {noise_density}")
    if not mean_span_length >= 1:
        raise ValueError(f"mean_span_length must be at least 1, got {mean_span_length}")
    if max_spans < 1:
        raise ValueError("t5_span needs at least one sentinel (<mask_1>)")
    if n < 2:
        raise ValueError(f"t5_span needs a window of at least 2 tokens, got {n}")
    noise = min(max(round(n * noise_density), 1), n - 1)
    spans = min(max(round(noise / mean_span_length), 1), max_spans, noise, n - noise)
    return noise, spans


def lengths(n: int, *, noise_density: float = NOISE_DENSITY,
            mean_span_length: float = MEAN_SPAN_LENGTH,
            max_spans: int = NUM_MASKS) -> tuple[int, int]:
    """``(input_len, target_len)`` of ``t5_span`` on an ``n``-token window: the kept tokens
    and a sentinel per span; a sentinel per span, the noise and ``<|endoftext|>``."""
    noise, spans = span_counts(n, noise_density=noise_density,
                               mean_span_length=mean_span_length, max_spans=max_spans)
    return n - noise + spans, noise + spans + 1


def t5_span(tokens: np.ndarray, *, seed: int, index: int,
            specials: SpecialIds = SpecialIds.default(), no_loss: np.ndarray | None = None,
            noise_density: float = NOISE_DENSITY,
            mean_span_length: float = MEAN_SPAN_LENGTH) -> Seq2SeqExample:
    """Mask spans of one window for the encoder and ask the decoder for them.

    Args:
        tokens: the window's token ids, 1-D, at least 2.
        seed: the run's seed; with ``index`` the only source of randomness.
        index: the global sample index; it differs between epochs, so a window seen again
            is masked afresh.
        specials: the corpus's special ids (default: the codemix layout); its ``masks`` are
            the sentinels and cap the number of spans, its ``eot`` ends the targets.
        no_loss: bool, one per token of ``tokens``: True where the token takes no loss
            (``PackedSequence.no_loss``); None for none.
        noise_density: share of tokens masked, in (0, 1) (default 0.15).
        mean_span_length: mean span length, at least 1 (default 3).

    Returns:
        ``Seq2SeqExample`` of int64 ids, of the lengths ``lengths`` gives: inputs, the kept
        tokens with a sentinel where each span was; targets, each sentinel followed by its
        span, then ``<|endoftext|>``; its ``no_loss`` marks the span tokens marked in
        ``no_loss`` (None without it).

    Raises:
        ValueError: ``tokens`` not 1-D with at least 2 ids, settings no window can satisfy,
            or ``specials`` without ``<mask_1>``.
    """
    ids = np.asarray(tokens, dtype=np.int64)
    if ids.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {ids.shape}")
    noise, spans = span_counts(len(ids), noise_density=noise_density,
                               mean_span_length=mean_span_length,
                               max_spans=len(specials.masks))
    rng = np.random.default_rng([seed, index, _T5_SALT])
    noise_lengths = random_composition(rng, noise, spans)
    kept_lengths = random_composition(rng, len(ids) - noise, spans)
    # Run boundaries, kept first: [kept_0, noise_0, kept_1, noise_1, ...].
    ends = np.cumsum(np.stack([kept_lengths, noise_lengths], axis=1).ravel())
    starts = np.concatenate([[0], ends[:-1]])
    sentinels = np.asarray(specials.masks[:spans], dtype=np.int64)
    marked = np.zeros(len(ids), bool) if no_loss is None else np.asarray(no_loss, dtype=bool)
    inputs, targets, silent = [], [], []
    for k in range(spans):
        span = slice(starts[2 * k + 1], ends[2 * k + 1])
        inputs += [ids[starts[2 * k]:ends[2 * k]], sentinels[k:k + 1]]
        targets += [sentinels[k:k + 1], ids[span]]
        silent += [[False], marked[span]]
    targets.append(np.array([specials.eot], dtype=np.int64))
    silent.append([False])
    return Seq2SeqExample(inputs=np.concatenate(inputs), targets=np.concatenate(targets),
                          no_loss=None if no_loss is None else np.concatenate(silent))
