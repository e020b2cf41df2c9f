"""CodeT5+'s bimodal generation on docstring/code pairs: text->code and code->text.

CodeT5+ (Wang et al., 2023, arXiv:2305.07922, section 3.2) trains on function/docstring
pairs with text-code contrastive learning, text-code matching and two generation tasks:
text->code (the docstring given, generate the code) and code->text (the code given, generate
the docstring). This module makes the generation examples; the contrastive and matching
losses are computed by the trainer on the pairs it reports (``Example.pairs``,
``training.bimodal``).

A document of the ``pairs`` component is ``docstring <sep> code`` (``pipelines.transforms``),
so a packed window is ``... docstring <sep> code EOT docstring <sep> code EOT ...``. A pair
is **complete** when the window holds all of it: it starts right after an EOT of the window,
its own EOT is an input position (not the window's last token, which is only a target), and
it has exactly one ``<sep>`` with tokens on both sides. Each complete pair is laid out in
place, with the same length, either as text->code or as code->text::

    docstring <sep> code EOT      loss on ``code EOT`` only
    code <sep> docstring EOT      loss on ``docstring EOT`` only

The first part is the condition: its tokens (and the ``<sep>``) take no loss. The choice is
drawn per pair from ``(seed, index)``, one draw per complete pair in window order; text->code
with probability ``text_to_code_rate`` (0.5 by default). ``index`` differs between epochs,
so a pair seen again may be laid out the other way.

Attention stays causal (the condition is read left to right, as a decoder-only model is
prompted at inference), not a bidirectional prefix: a window holds many pairs, and
``Example.prefix`` describes one prefix per row; CodeGen2's lesson 1 found no gain from a
prefix-LM on one decoder anyway. With ``training.document_mask`` pairs do not attend to each
other.

**Partial pairs** (cut by the window's edges, or a document without exactly one ``<sep>``)
stay in their place as plain causal LM, loss on every token: no token of the window is
wasted, and ``bimodal`` applied to a component without pairs is plain CLM. Trade-off: about
one partial pair per window edge trains unconditionally; for windows much longer than a pair
that is a small share.

Nothing is lost: the example's ``pairs`` say where each pair's docstring and code are, and
``restore`` rebuilds the window from them. Tokens the build marked ``no_loss`` keep no loss
wherever their pair's layout moves them.

**On an encoder-decoder** (``bimodal_seq2seq``) an example is one pair, as CodeT5+ trains
its encoder-decoders: the encoder reads the condition and an EOT, the decoder generates the
other side and an EOT::

    text->code   inputs  docstring EOT     targets  code EOT
    code->text   inputs  code EOT          targets  docstring EOT

The pair is drawn uniformly among the window's complete pairs, its direction as above (the
pair's own draw of ``directions``), both from ``(seed, index)``. The EOT after the
condition is where the contrastive pass pools the encoder's reading of a side
(``training.bimodal``), so the encoder reads a side the same way in all three losses.
Trade-off: the window's other complete pairs are not trained on in this example (a window
is drawn again with another index in a later epoch, and may give another pair); a window
without a complete pair trains as ``seq2seq_lm``, as the decoder's layout trains it as CLM.
"""

from __future__ import annotations

import numpy as np

from tokenizer.special_tokens import SEP, SpecialIds
from training.objectives.clm import causal_lm
from training.objectives.example import IGNORE_INDEX, Example, Seq2SeqExample
from training.objectives.seq2seq_lm import lengths as seq2seq_lm_lengths
from training.objectives.seq2seq_lm import seq2seq_lm

REQUIRED_TOKENS = (SEP,)
"""Special tokens ``bimodal`` needs beyond ``<|endoftext|>``: ``<sep>`` splits each pair."""

_DIRECTION_SALT = 0xB1C0DE
"""Generator stream of the pairs' directions of one (seed, index)."""

_CHOICE_SALT = 0xB1C0DF
"""Generator stream of the pair an encoder-decoder example takes, of one (seed, index)."""


def complete_pairs(tokens: np.ndarray, specials: SpecialIds = SpecialIds.default()
                   ) -> np.ndarray:
    """The pairs of a window that lie wholly inside its inputs.

    Args:
        tokens: ``seq_len + 1`` token ids of a packed window.
        specials: the corpus's special ids; ``eot`` ends documents, ``sep`` splits pairs.

    Returns:
        int64 ``[P, 3]``: each complete pair's ``(start, sep, end)`` window positions, in
        order: docstring ``tokens[start:sep]``, code ``tokens[sep + 1:end]``, and its EOT at
        ``end <= len(tokens) - 2``.
    """
    eots = np.flatnonzero(tokens == specials.eot)
    seps = np.flatnonzero(tokens == specials.sep)
    found = []
    for before, end in zip(eots[:-1], eots[1:]):
        if end > len(tokens) - 2:  # its EOT would be the window's last token, a target only
            break
        inside = seps[(seps > before) & (seps < end)]
        if len(inside) == 1 and before + 1 < inside[0] < end - 1:
            found.append((before + 1, inside[0], end))
    return np.array(found, dtype=np.int64).reshape(-1, 3)


def directions(seed: int, index: int, count: int, text_to_code_rate: float = 0.5
               ) -> np.ndarray:
    """Whether each of a window's ``count`` complete pairs is laid out text->code (True) or
    code->text (False): one draw per pair, in window order, from ``(seed, index)``."""
    rng = np.random.default_rng([seed, index, _DIRECTION_SALT])
    return rng.random(count) < text_to_code_rate


def _window_pairs(tokens: np.ndarray, specials: SpecialIds,
                  text_to_code_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The window as int64 ids and its complete pairs, after checking the arguments both
    layouts share."""
    ids = np.asarray(tokens, dtype=np.int64)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"tokens must be 1-D with at least 2 ids, got shape {ids.shape}")
    if not 0.0 <= text_to_code_rate <= 1.0:
        raise ValueError(f"text_to_code_rate must be in [0, 1], got {text_to_code_rate}")
    return ids, complete_pairs(ids, specials)


def bimodal(tokens: np.ndarray, *, seed: int, index: int,
            specials: SpecialIds = SpecialIds.default(), no_loss: np.ndarray | None = None,
            text_to_code_rate: float = 0.5) -> Example:
    """Lay out every complete pair of one packed window as text->code or code->text.

    Args:
        tokens: ``seq_len + 1`` token ids, at least 2.
        seed: the run's seed; with ``index`` the only source of randomness.
        index: the global sample index; it differs between epochs, so a pair seen again
            draws its direction afresh.
        specials: the corpus's special ids (default: the codemix layout); needs ``sep``.
        no_loss: bool, one per token: True where the token takes no loss
            (``PackedSequence.no_loss``); None for none.
        text_to_code_rate: share of complete pairs laid out text->code
            (``objectives.bimodal_text_to_code_rate``), in [0, 1].

    Returns:
        ``Example`` of ``seq_len`` int64 ids each: the window with every complete pair laid
        out, causal-LM targets except that each pair's condition and ``<sep>`` take no loss
        (``IGNORE_INDEX``); ``prefix`` 0; ``pairs`` ``[P, 4]``, where the docstring and
        the code of each complete pair are in ``inputs`` (``Example.pairs``).

    Raises:
        ValueError: ``tokens`` not 1-D with at least 2 ids, or a rate outside [0, 1].
    """
    ids, found = _window_pairs(tokens, specials, text_to_code_rate)
    order = np.arange(len(ids))  # output position -> window position it takes its token from
    spans = np.empty((len(found), 4), dtype=np.int64)
    conditions = []  # output ranges whose next-token targets take no loss
    for k, ((start, sep, end), forward) in enumerate(
            zip(found, directions(seed, index, len(found), text_to_code_rate))):
        text, code = np.arange(start, sep), np.arange(sep + 1, end)
        first, second = (text, code) if forward else (code, text)
        split = start + len(first)  # where the <sep> goes
        order[start:end] = np.r_[first, sep, second]
        spans[k] = ((start, split, split + 1, end) if forward
                    else (split + 1, end, start, split))
        # Targets start-1 .. split-1 predict the condition's tokens and the <sep>.
        conditions.append((start - 1, split))
    clm = causal_lm(ids[order], seed=seed, index=index, specials=specials,
                    no_loss=None if no_loss is None else np.asarray(no_loss)[order])
    for lo, hi in conditions:
        clm.targets[lo:hi] = IGNORE_INDEX
    return Example(inputs=clm.inputs, targets=clm.targets, pairs=spans)


def restore(example: Example, specials: SpecialIds = SpecialIds.default()) -> np.ndarray:
    """The window's inputs as they were before ``bimodal``: every pair as ``docstring <sep>
    code`` again. The window's last token is ``example.targets[-1]`` (never in a pair)."""
    out = example.inputs.copy()
    for text_start, text_end, code_start, code_end in example.pairs:
        text, code = example.inputs[text_start:text_end], example.inputs[code_start:code_end]
        start = min(text_start, code_start)
        out[start:start + len(text) + 1 + len(code)] = np.r_[text, specials.sep, code]
    return out


def seq2seq_lengths(n: int) -> tuple[int, int]:
    """``(input_len, target_len)`` that hold ``bimodal_seq2seq``'s example of any
    ``n``-token window: a complete pair starts after an EOT and ends with one before the
    window's last token, so ``side <sep> side`` spans ``n - 3`` tokens at most and a side
    and its EOT ``n - 4``; a window without a pair is ``seq2seq_lm``'s."""
    inputs, targets = seq2seq_lm_lengths(n)
    return max(inputs, n - 4), max(targets, n - 4)


def bimodal_seq2seq(tokens: np.ndarray, *, seed: int, index: int,
                    specials: SpecialIds = SpecialIds.default(),
                    no_loss: np.ndarray | None = None,
                    text_to_code_rate: float = 0.5) -> Seq2SeqExample:
    """One complete pair of one packed window, as an encoder-decoder's text->code or
    code->text example (the module's docstring shows the layouts).

    Args:
        tokens: the window's token ids, 1-D, at least 2.
        seed: the run's seed; with ``index`` the only source of randomness.
        index: the global sample index; it differs between epochs, so a window seen again
            may give another pair, the other way round.
        specials: the corpus's special ids (default: the codemix layout); needs ``sep``.
        no_loss: bool, one per token: True where the token takes no loss; None for none.
        text_to_code_rate: the chance the pair is laid out text->code, in [0, 1].

    Returns:
        ``Seq2SeqExample`` of int64 ids: the condition and an EOT, the generated side and
        an EOT (whose ``no_loss`` keeps the build's marks); ``pairs`` ``[1, 4]``, the
        docstring's and the code's positions in ``np.r_[inputs, targets]``. Without a
        complete pair, ``seq2seq_lm``'s example, ``pairs`` ``[0, 4]``.

    Raises:
        ValueError: ``tokens`` not 1-D with at least 2 ids, or a rate outside [0, 1].
    """
    ids, found = _window_pairs(tokens, specials, text_to_code_rate)
    if not len(found):
        lm = seq2seq_lm(ids, seed=seed, index=index, specials=specials, no_loss=no_loss)
        return lm._replace(pairs=np.zeros((0, 4), dtype=np.int64))
    k = int(np.random.default_rng([seed, index, _CHOICE_SALT]).integers(len(found)))
    forward = directions(seed, index, len(found), text_to_code_rate)[k]
    start, sep, end = found[k]
    text, code = np.arange(start, sep), np.arange(sep + 1, end)
    condition, generated = (text, code) if forward else (code, text)
    inputs = np.r_[ids[condition], specials.eot]
    targets = np.r_[ids[generated], specials.eot]
    # Positions in np.r_[inputs, targets]: the condition first, the generated side after.
    first = (0, len(condition))
    second = (len(inputs), len(inputs) + len(generated))
    pairs = np.array([(*first, *second) if forward else (*second, *first)], dtype=np.int64)
    silent = None
    if no_loss is not None:
        silent = np.r_[np.asarray(no_loss, dtype=bool)[generated], False]
    return Seq2SeqExample(inputs=inputs, targets=targets, no_loss=silent, pairs=pairs)
