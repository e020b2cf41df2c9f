"""training.objectives.bimodal: text->code / code->text layouts of docstring/code pairs."""

import numpy as np
import pytest

from tokenizer.special_tokens import SPECIAL_TOKENS, SpecialIds
from training.config import ObjectivesConfig
from training.objectives import IGNORE_INDEX, REQUIRED_TOKENS, transform
from training.objectives.bimodal import bimodal, complete_pairs, directions, restore
from training.objectives.clm import causal_lm

CODEMIX = SpecialIds.default()
EOT, SEP = CODEMIX.eot, CODEMIX.sep
FIRST_TEXT_ID = len(SPECIAL_TOKENS)  # documents never hold special ids


def pair_window(case: int, seq_len: int = 128) -> np.ndarray:
    """A window of ``seq_len + 1`` tokens over a stream of ``docstring <sep> code EOT``
    documents (a few malformed: no ``<sep>``, two, or an empty side), cut at a random
    offset, so its first and last pairs are usually partial."""
    rng = np.random.default_rng([99, case])
    stream = []
    while sum(map(len, stream)) < 3 * seq_len:
        text, code = (rng.integers(FIRST_TEXT_ID, 500, size=rng.integers(0 if rng.random()
                                                                         < 0.05 else 1, 30))
                      for _ in range(2))
        kind = rng.random()
        if kind < 0.05:
            doc = np.r_[text, code]
        elif kind < 0.1:
            doc = np.r_[text, SEP, code, SEP, text]
        else:
            doc = np.r_[text, SEP, code]
        stream += [doc, [EOT]]
    stream = np.concatenate(stream).astype(np.int64)
    start = rng.integers(0, len(stream) - seq_len - 1)
    return stream[start:start + seq_len + 1]


def text_first(ex) -> np.ndarray:
    """Whether each pair of an example is laid out text->code."""
    return ex.pairs[:, 0] < ex.pairs[:, 2]


CASES = [(seed, index) for seed in (0, 5) for index in range(0, 300, 3)]


def test_every_window_is_restored_from_its_example():
    for seed, index in CASES:
        tokens = pair_window(seed * 1000 + index)
        ex = bimodal(tokens, seed=seed, index=index)
        np.testing.assert_array_equal(np.r_[restore(ex), ex.targets[-1]], tokens)


def test_each_pair_is_laid_out_in_place_with_loss_on_the_generated_side_only():
    laid_out = 0
    for seed, index in CASES[::4]:
        tokens = pair_window(index)
        ex = bimodal(tokens, seed=seed, index=index)
        clm = causal_lm(tokens, seed=seed, index=index)
        changed = np.zeros(len(ex.inputs), dtype=bool)
        for ts, te, cs, ce in ex.pairs:
            text, code = ex.inputs[ts:te], ex.inputs[cs:ce]
            start, end = min(ts, cs), max(te, ce)  # the pair, its EOT at ``end``
            first, second = (text, code) if ts < cs else (code, text)
            assert ex.inputs[start + len(first)] == SEP and ex.inputs[end] == EOT
            np.testing.assert_array_equal(ex.inputs[start:end],
                                          np.r_[first, SEP, second])
            # No loss while reading the condition and the <sep>; then the other side + EOT.
            split = start + len(first)
            assert (ex.targets[start - 1:split] == IGNORE_INDEX).all()
            np.testing.assert_array_equal(ex.targets[split:end], np.r_[second, EOT])
            changed[start - 1:end] = True
            laid_out += 1
        # Everything outside the complete pairs is plain causal LM.
        np.testing.assert_array_equal(ex.inputs[~changed], clm.inputs[~changed])
        np.testing.assert_array_equal(ex.targets[~changed], clm.targets[~changed])
    assert laid_out > 100


def test_only_pairs_wholly_inside_the_inputs_are_complete():
    t = list(range(100, 110))
    #        cut pair   | pair            | no <sep>   | two <sep>          | empty text
    window = [t[0], EOT, t[1], SEP, t[2], EOT, t[3], EOT, t[4], SEP, t[5], SEP, t[6], EOT,
              SEP, t[7], EOT,
              # | pair   | a pair whose EOT is the window's last token (a target only)
              t[8], SEP, t[9], EOT, t[1], SEP, t[2], EOT]
    found = complete_pairs(np.array(window))
    assert found.tolist() == [[2, 3, 5], [17, 18, 20]]
    assert complete_pairs(np.array(window[:-1] + [t[3]])).tolist() == found.tolist()
    # The same window one token longer holds the last pair too.
    longer = complete_pairs(np.array(window + [t[0]]))
    assert longer.tolist() == [[2, 3, 5], [17, 18, 20], [21, 22, 24]]


def test_the_direction_is_drawn_per_pair_from_seed_and_index():
    tokens = pair_window(7, seq_len=512)
    count = len(complete_pairs(tokens))
    assert count > 10
    a = bimodal(tokens, seed=3, index=11)
    np.testing.assert_array_equal(a.inputs, bimodal(tokens.copy(), seed=3, index=11).inputs)
    np.testing.assert_array_equal(text_first(a), directions(3, 11, count))
    # The same window one epoch later has another global index: other directions.
    epochs = {tuple(directions(3, 11 + epoch * 10_000, count)) for epoch in range(8)}
    assert len(epochs) == 8
    assert tuple(directions(4, 11, count)) != tuple(directions(3, 11, count))


@pytest.mark.parametrize("rate", [0.0, 0.25, 1.0])
def test_text_to_code_rate_is_the_share_of_text_first_pairs(rate):
    forward = np.concatenate([
        text_first(transform("bimodal", pair_window(i, seq_len=512), seed=0, index=i,
                             options={"text_to_code_rate": rate}))
        for i in range(100)])
    assert len(forward) > 1000
    assert forward.mean() == pytest.approx(rate, abs=0.05)
    assert ObjectivesConfig(bimodal_text_to_code_rate=rate).options("bimodal") == {
        "text_to_code_rate": rate}


def test_a_window_without_pairs_is_plain_clm():
    tokens = np.r_[np.arange(200, 240), EOT, np.arange(300, 330)]
    ex = bimodal(tokens, seed=0, index=0)
    clm = causal_lm(tokens, seed=0, index=0)
    np.testing.assert_array_equal(ex.inputs, clm.inputs)
    np.testing.assert_array_equal(ex.targets, clm.targets)
    assert ex.pairs.shape == (0, 4) and ex.prefix == 0


def test_no_loss_marks_follow_their_tokens():
    tokens = pair_window(3, seq_len=256)
    no_loss = np.random.default_rng(0).random(len(tokens)) < 0.2
    no_loss[(tokens == EOT) | (tokens == SEP)] = False  # the build never marks those
    tokens = np.where(no_loss, 999, tokens)  # one id for the marked, found wherever it moves
    for index in range(20):
        ex = bimodal(tokens, seed=1, index=index, no_loss=no_loss)
        shown = np.r_[ex.inputs[1:], tokens[-1]]  # the token each target predicts
        condition = np.zeros(len(shown), dtype=bool)
        for ts, te, cs, ce in ex.pairs:
            condition[min(ts, cs) - 1:min(te, ce)] = True
        ignored = ex.targets == IGNORE_INDEX
        assert (ignored == (condition | (shown == 999))).all(), index


def test_the_corpus_special_ids_are_used():
    specials = SpecialIds(eot=9, sep=7)
    ex = bimodal(np.array([1, 9, 20, 21, 7, 30, 9, 40, 41]), seed=0, index=0,
                 specials=specials, text_to_code_rate=0.0)
    assert ex.inputs.tolist() == [1, 9, 30, 7, 20, 21, 9, 40]
    assert ex.targets.tolist() == [9, IGNORE_INDEX, IGNORE_INDEX, 20, 21, 9, 40, 41]
    assert restore(ex, specials).tolist() == [1, 9, 20, 21, 7, 30, 9, 40]
    assert "<sep>" in REQUIRED_TOKENS["bimodal"]


@pytest.mark.parametrize("tokens,kwargs,message", [
    (np.array([5]), {}, "at least 2 ids"),
    (np.arange(4), {"text_to_code_rate": 1.5}, r"must be in \[0, 1\]"),
])
def test_bad_inputs_are_refused(tokens, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bimodal(tokens, seed=0, index=0, **kwargs)
