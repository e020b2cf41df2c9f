"""CodeGen2's objective: causal LM or file-level span corruption, chosen per sequence.

CodeGen2 (Nijkamp et al., 2023, arXiv:2305.02309, "learning algorithm") trains one decoder
on a mixture: each sequence is either plain next-token prediction or span corruption, with
probability 0.5 each. Span corruption works per file, in three draws:

1. a mask ratio ``r`` for the document, uniform in ``MASK_RATIO`` ([0.05, 0.5]);
2. the span lengths: ``round(r * n)`` masked tokens (clipped to ``[1, n - 1]`` as in T5's
   ``random_spans_noise_mask``, so every document keeps a token and loses one), split into
   a number of spans drawn uniformly from ``[1, max_spans]`` (at most 32, the number of
   ``<mask_k>`` sentinels, and no more than the masked or kept tokens allow), each span at
   least one token long;
3. the positions: the kept tokens are split into the gaps before, between and after the
   spans, with at least one kept token between two spans, so no two sentinels touch.

With ``syntax_spans`` (``objectives.syntax_spans``), a document whose window carries
top-level definitions (``PackedSequence.spans``, from the parse stage) has whole definitions
masked instead: the ratio ``r`` is drawn as above and ``round(r * d)`` of its ``d``
definitions (at least one, at most ``max_spans``) are chosen uniformly without replacement;
chosen definitions that touch become one span, since two sentinels must not touch. Documents
without definitions (prose, a window's piece between two definitions) keep the random spans.
This is function-level infilling: the model fills a whole function given the rest of its file.

The paper states the order of the draws ("first sample a dynamic ratio of sequence to mask
out, then sample the span length and mask out locations such that the total number of
tokens match the ratio") but not their distributions; the ones above are ours. Span lengths
and gaps are uniform over all compositions of their totals (T5's ``_random_segmentation``),
so one long span (a function body to fill) is as likely as many short ones.

Each span is replaced in place by ``<mask_k>`` and follows the document in CodeGen2's
infill format (``prefix <mask_1> suffix <|endoftext|> <sep> <mask_1> middle <eom>``, from
its model card); the document ``a b c d e`` with spans ``b`` and ``d`` becomes::

    a <mask_1> c <mask_2> e <|endoftext|> <sep> <mask_1> b <eom> <mask_2> d <eom>

A packed sequence is split at its ``<|endoftext|>`` (EOT) separators and every piece is
corrupted on its own, the separators kept between the transformed pieces. The first and
last pieces are usually a document cut by the window; they are corrupted like whole
documents, since the model sees only them (CLM trains on such pieces too). Pieces shorter
than ``MIN_DOCUMENT_TOKENS`` stay as they are. The layout is unambiguous because documents
never hold special ids (``tokenizer.encode`` encodes special-token strings as text): an EOT
followed by ``<sep>`` opens an infill section, any other EOT separates documents.

Trade-off: corruption lengthens every corrupted piece by ``3 * spans + 2`` tokens and the
Example keeps ``seq_len``, so the transformed sequence is cut to the window's length and the
window's last tokens (often the last piece's infill section) are not trained on in this
sample. Every token is still trained on in the epochs that draw CLM or corrupt it less, and
each epoch draws afresh because ``index`` (the global sample index) differs between epochs.
Loss is taken on every token, sentinels included, except tokens the build marked ``no_loss``
(``PackedSequence.no_loss``): corruption is computed as the source of every output position
(a window position, or an inserted special token), so the mask follows each token to wherever
corruption moves it, and inserted tokens take loss.
"""

from __future__ import annotations

import numpy as np

from tokenizer.special_tokens import EOM, MASKS, NUM_MASKS, SEP, SpecialIds
from training.objectives.clm import causal_lm
from training.objectives.example import Example

CLM_PROBABILITY = 0.5
"""Probability that a sequence is trained as plain causal LM (CodeGen2's mixture)."""

MASK_RATIO = (0.05, 0.5)
"""Bounds of the per-document mask ratio, drawn uniformly in between."""

MIN_DOCUMENT_TOKENS = 2
"""Shortest document that is corrupted: one token masked, one kept."""

REQUIRED_TOKENS = (SEP, EOM, *MASKS)
"""Special tokens the infill layout is made of (besides ``<|endoftext|>``)."""

_CLM_SALT = 0xC0DE6E2
_SPAN_SALT = 0x5BA9C0
"""Distinct generator streams for the CLM coin and the corruption of one (seed, index)."""


def codegen2(tokens: np.ndarray, *, seed: int, index: int,
             specials: SpecialIds = SpecialIds.default(),
             clm_probability: float = CLM_PROBABILITY,
             mask_ratio: tuple[float, float] = MASK_RATIO,
             max_spans: int = NUM_MASKS, syntax_spans: bool = False,
             no_loss: np.ndarray | None = None, spans: np.ndarray | None = None) -> Example:
    """CodeGen2's mixture over one packed sequence: causal LM or span corruption.

    Args:
        tokens: ``seq_len + 1`` token ids, documents separated by ``<|endoftext|>``.
        seed: the run's seed; with ``index`` the only source of randomness.
        index: the global sample index; it differs between epochs, so a sequence seen
            again is corrupted afresh.
        specials: the corpus's special ids (default: the codemix layout); must have
            ``REQUIRED_TOKENS``.
        clm_probability: chance, in [0, 1], that the sequence is plain causal LM
            (default 0.5, CodeGen2's mixture).
        mask_ratio: ``(low, high)`` bounds of each document's mask ratio,
            ``0 < low <= high < 1``; see ``corrupt_sequence``.
        max_spans: most spans per document, in ``[1, 32]`` (one ``<mask_k>`` each).
        syntax_spans: mask whole top-level definitions (``spans``) where a document has
            them (module docstring); default False: random spans everywhere.
        no_loss: bool, one per token: True where the token takes no loss
            (``PackedSequence.no_loss``); None for none.
        spans: int64 ``[k, 2]`` window positions of top-level definitions
            (``PackedSequence.spans``); used only with ``syntax_spans``.

    Returns:
        ``Example`` of ``seq_len`` int64 ids each: the next-token shift of either
        ``tokens`` or the corrupted sequence cut to ``seq_len + 1`` tokens; loss on every
        target except padding and the tokens ``no_loss`` marks.

    Raises:
        ValueError: a setting no sequence can satisfy, or ``tokens`` not 1-D with at least
            two ids.
    """
    if not 0 <= clm_probability <= 1:
        raise ValueError(f"clm_probability must be in [0, 1], got {clm_probability}")
    _check_corruption(mask_ratio, max_spans)
    ids = np.asarray(tokens, dtype=np.int64)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"tokens must be 1-D with at least 2 ids, got shape {ids.shape}")
    if np.random.default_rng([seed, index, _CLM_SALT]).random() < clm_probability:
        return causal_lm(ids, seed=seed, index=index, specials=specials, no_loss=no_loss)
    # Corruption only lengthens a sequence, so cutting is all that fits it to the window.
    sources = _corruption(ids, seed=seed, index=index, eot=specials.eot,
                          mask_ratio=mask_ratio, max_spans=max_spans,
                          spans=spans if syntax_spans else None)
    sources = sources[:len(ids)]
    source_ids = _source_ids(ids, specials)
    if no_loss is not None:  # inserted tokens take loss
        no_loss = np.pad(np.asarray(no_loss, dtype=bool), (0, len(source_ids) - len(ids)))
        no_loss = no_loss[sources]
    return causal_lm(source_ids[sources], seed=seed, index=index, specials=specials,
                     no_loss=no_loss)


def corrupt_sequence(tokens: np.ndarray, *, seed: int, index: int,
                     specials: SpecialIds = SpecialIds.default(),
                     mask_ratio: tuple[float, float] = MASK_RATIO,
                     max_spans: int = NUM_MASKS,
                     spans: np.ndarray | None = None) -> np.ndarray:
    """Span-corrupt every document of a packed sequence, without cutting the result.

    Args:
        tokens: token ids, documents separated by ``<|endoftext|>``; a piece before the
            first or after the last separator counts as a document.
        seed: the run's seed.
        index: the global sample index; the same (seed, index) gives the same corruption
            as inside ``codegen2``.
        specials: the corpus's special ids (default: the codemix layout).
        mask_ratio: ``(low, high)``: each document's mask ratio is uniform in between,
            ``0 < low <= high < 1`` (default ``(0.05, 0.5)``).
        max_spans: most spans per document, in ``[1, 32]`` (default 32).
        spans: int64 ``[k, 2]`` positions in ``tokens`` of top-level definitions, each
            inside one document: a document with any has whole definitions masked (as
            ``codegen2`` with ``syntax_spans``); None (the default) masks random spans.

    Returns:
        int64 ids: the transformed documents joined by the same ``<|endoftext|>``
        separators; at least as long as ``tokens``. ``split_documents`` and ``restore``
        invert it.

    Raises:
        ValueError: ``mask_ratio`` or ``max_spans`` out of range.
    """
    _check_corruption(mask_ratio, max_spans)
    ids = np.asarray(tokens, dtype=np.int64)
    sources = _corruption(ids, seed=seed, index=index, eot=specials.eot,
                          mask_ratio=mask_ratio, max_spans=max_spans, spans=spans)
    return _source_ids(ids, specials)[sources]


def split_documents(sequence: np.ndarray,
                    specials: SpecialIds = SpecialIds.default()) -> list[np.ndarray]:
    """Cut a ``corrupt_sequence`` result back into its transformed documents.

    Args:
        sequence: the output of ``corrupt_sequence`` (or a prefix of it: then the last
            document may be incomplete).
        specials: the special ids it was made with (default: the codemix layout).

    Returns:
        One int64 array per document, separators dropped; each is a valid ``restore``
        input when the sequence was not cut inside it.
    """
    ids = np.asarray(sequence, dtype=np.int64)
    eot = np.flatnonzero(ids == specials.eot)
    # An EOT followed by <sep> opens its document's infill section; any other separates.
    follower = np.append(ids, specials.eot)[eot + 1]
    separators = eot[follower != specials.sep]
    starts = np.concatenate([[0], separators + 1])
    stops = np.concatenate([separators, [len(ids)]])
    return [ids[start:stop] for start, stop in zip(starts, stops)]


def restore(document: np.ndarray, specials: SpecialIds = SpecialIds.default()) -> np.ndarray:
    """The original document of one transformed document (the inverse of corruption).

    Args:
        document: one transformed document, ``body <|endoftext|> <sep> (<mask_k> span
            <eom>)*``, or an uncorrupted one (no ``<|endoftext|>``), returned unchanged.
        specials: the special ids it was made with (default: the codemix layout).

    Returns:
        int64 ids: the body with each ``<mask_k>`` replaced by its span.

    Raises:
        ValueError: the layout is not one that corruption produces (e.g. cut short).
    """
    ids = np.asarray(document, dtype=np.int64)
    eot = np.flatnonzero(ids == specials.eot)
    if len(eot) == 0:
        return ids.copy()
    body, infill = ids[:eot[0]], ids[eot[0] + 1:]
    if len(eot) > 1 or len(infill) == 0 or infill[0] != specials.sep:
        raise ValueError("not a transformed document: expected one <|endoftext|> <sep>")
    infill = infill[1:]
    ends = np.flatnonzero(infill == specials.eom)  # each span record ends with <eom>
    starts = np.concatenate([[0], ends[:-1] + 1])
    num_spans = len(ends)
    mask_ids = np.asarray(specials.masks, dtype=np.int64)
    holes = np.flatnonzero(np.isin(body, mask_ids))
    if (num_spans == 0 or ends[-1] != len(infill) - 1 or num_spans > len(mask_ids)
            or not np.array_equal(infill[starts], mask_ids[:num_spans])
            or not np.array_equal(body[holes], mask_ids[:num_spans])):
        raise ValueError("not a transformed document: <mask_k> span <eom> records do not "
                         "match the sentinels in the body")
    parts, previous = [], 0
    for hole, start, end in zip(holes, starts, ends):
        parts += [body[previous:hole], infill[start + 1:end]]
        previous = hole + 1
    parts.append(body[previous:])
    return np.concatenate(parts)


def _check_corruption(mask_ratio: tuple[float, float], max_spans: int) -> None:
    """Reject span-corruption settings that no document can satisfy."""
    low, high = mask_ratio
    if not 0 < low <= high < 1:
        raise ValueError(f"mask_ratio must be (low, high) with 0 < low <= high < 1, "
                         f"got {tuple(mask_ratio)}")
    if not 1 <= max_spans <= NUM_MASKS:
        raise ValueError(f"max_spans must be in [1, {NUM_MASKS}] (one <mask_k> per span), "
                         f"got {max_spans}")


_EOT, _SEP, _EOM, _MASK = range(4)
"""Where each inserted special id sits after the window's tokens in ``_source_ids``: the
infill section's ``<|endoftext|>``, ``<sep>``, ``<eom>``, then ``<mask_1>``.."""


def _inserted(specials: SpecialIds) -> np.ndarray:
    """The special ids corruption inserts, in the order of ``_EOT`` .. ``_MASK + 31``."""
    return np.array([specials.eot, specials.sep, specials.eom, *specials.masks],
                    dtype=np.int64)


def _source_ids(ids: np.ndarray, specials: SpecialIds) -> np.ndarray:
    """What every source index of ``_corruption`` reads: the window's ids, then the
    inserted special ids."""
    return np.concatenate([ids, _inserted(specials)])


def _corruption(ids: np.ndarray, *, seed: int, index: int, eot: int,
                mask_ratio: tuple[float, float], max_spans: int,
                spans: np.ndarray | None) -> np.ndarray:
    """The corrupted sequence as sources: int64 indices into ``_source_ids(ids, ...)``, a
    position of ``ids`` for a token carried over, ``len(ids) + _EOT`` etc. for an inserted
    one. Any per-token array (ids, the loss mask) follows corruption by one gather."""
    rng = np.random.default_rng([seed, index, _SPAN_SALT])
    definitions = np.zeros((0, 2), np.int64) if spans is None else np.asarray(spans, np.int64)
    separators = np.flatnonzero(ids == eot)
    starts = np.concatenate([[0], separators + 1])
    stops = np.concatenate([separators, [len(ids)]])
    parts = []
    for i, (start, stop) in enumerate(zip(starts, stops)):
        if i:
            parts.append(separators[i - 1:i])
        inside = definitions[(definitions[:, 0] >= start) & (definitions[:, 1] <= stop)]
        parts.append(_corrupt_document(int(start), int(stop), inside - start, rng,
                                       inserted=len(ids), mask_ratio=mask_ratio,
                                       max_spans=max_spans))
    return np.concatenate(parts).astype(np.int64)


def _corrupt_document(start: int, stop: int, definitions: np.ndarray,
                      rng: np.random.Generator, *, inserted: int,
                      mask_ratio: tuple[float, float], max_spans: int) -> np.ndarray:
    """Sources of one document (window positions ``[start, stop)``) in the infill layout:
    the ratio, then the spans (whole ``definitions``, document-relative, when there are
    any, else random), then the layout; ``inserted`` is where the special ids start."""
    n = stop - start
    if n < MIN_DOCUMENT_TOKENS:
        return np.arange(start, stop)
    ratio = rng.uniform(*mask_ratio)
    masked = (_definition_spans(rng, definitions, ratio, max_spans) if len(definitions)
              else _random_spans(rng, n, ratio, max_spans))
    body, infill = [], [[inserted + _EOT, inserted + _SEP]]
    previous = 0
    for k, (a, b) in enumerate(masked):
        mask = [inserted + _MASK + k]
        body += [np.arange(start + previous, start + a), mask]
        infill += [mask, np.arange(start + a, start + b), [inserted + _EOM]]
        previous = b
    body.append(np.arange(start + previous, stop))
    return np.concatenate(body + infill)


def _random_spans(rng: np.random.Generator, n: int, ratio: float,
                  max_spans: int) -> np.ndarray:
    """``[k, 2]`` random spans of an ``n``-token document: lengths, then positions."""
    masked = min(max(round(ratio * n), 1), n - 1)
    kept = n - masked
    # k spans need k masked tokens and k - 1 kept tokens to separate them.
    num_spans = int(rng.integers(1, min(max_spans, masked, kept + 1) + 1))
    lengths = random_composition(rng, masked, num_spans)
    # Gaps before, between and after the spans: the inner ones >= 1, the outer ones >= 0
    # (drawn >= 1 from two extra tokens, then lowered).
    gaps = random_composition(rng, kept + 2, num_spans + 1)
    gaps[[0, -1]] -= 1
    starts = np.cumsum(gaps[:-1]) + np.concatenate([[0], np.cumsum(lengths[:-1])])
    return np.stack([starts, starts + lengths], axis=1)


def _definition_spans(rng: np.random.Generator, definitions: np.ndarray, ratio: float,
                      max_spans: int) -> np.ndarray:
    """``[k, 2]`` spans that are whole ``definitions``: ``round(ratio * d)`` of the ``d``
    (at least one, at most ``max_spans``), touching ones merged into one span."""
    count = min(max(round(ratio * len(definitions)), 1), max_spans)
    chosen = definitions[np.sort(rng.choice(len(definitions), size=count, replace=False))]
    merged = [chosen[0].copy()]
    for a, b in chosen[1:]:
        if a == merged[-1][1]:
            merged[-1][1] = b
        else:
            merged.append(np.array([a, b]))
    return np.stack(merged)


def random_composition(rng: np.random.Generator, total: int, parts: int) -> np.ndarray:
    """``parts`` positive ints summing to ``total``, uniform over all such compositions
    (T5's ``_random_segmentation``; ``t5_span`` uses it too)."""
    cuts = np.sort(rng.choice(total - 1, size=parts - 1, replace=False)) + 1
    return np.diff(np.concatenate([[0], cuts, [total]]))
