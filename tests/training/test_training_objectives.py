"""training.objectives: the registry, and CLM."""

import numpy as np
import pytest
import torch
from corpus_builder import ranged_document, stdlib_texts, train_tokenizer, write_ranged_shard

from tokenizer.special_tokens import ENDOFTEXT, PAD, SPECIAL_TOKENS, SpecialIds
from training.data.packing import PackedComponent
from training.objectives import (IGNORE_INDEX, OBJECTIVES, REQUIRED_TOKENS,
                                 SEQ2SEQ_OBJECTIVES, SPAN_OBJECTIVES, Seq2SeqExample,
                                 missing_tokens, seq2seq_lengths, transform)
from training.objectives.loss import cross_entropy


DECODER_OBJECTIVES = sorted(set(OBJECTIVES) - SEQ2SEQ_OBJECTIVES)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(stdlib_texts(50_000)["code-python"], 300)


@pytest.mark.parametrize("name", DECODER_OBJECTIVES)
def test_every_objective_is_pure_and_keeps_length(name, tok):
    tokens = np.arange(100, 133)
    a = transform(name, tokens, seed=3, index=7, tokenizer=tok)
    b = transform(name, tokens, seed=3, index=7, tokenizer=tok)
    assert a.inputs.shape == a.targets.shape == (32,)
    assert a.inputs.dtype == a.targets.dtype == np.int64
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert a.prefix == b.prefix and 0 <= a.prefix <= 32


@pytest.mark.parametrize("name", sorted(SEQ2SEQ_OBJECTIVES))
def test_every_encoder_decoder_objective_is_pure_and_fits_its_lengths(name, tok):
    tokens = np.arange(100, 165)
    specials = SpecialIds.default()
    enc_len, dec_len = seq2seq_lengths([name], len(tokens), specials)
    examples = [transform(name, tokens, seed=3, index=i, tokenizer=tok) for i in range(200)]
    again = transform(name, tokens, seed=3, index=7, tokenizer=tok)
    assert isinstance(again, Seq2SeqExample)
    np.testing.assert_array_equal(again.inputs, examples[7].inputs)
    np.testing.assert_array_equal(again.targets, examples[7].targets)
    # The lengths hold every draw, and are reached: no padding beyond what some draw needs.
    assert max(len(e.inputs) for e in examples) == enc_len
    assert max(len(e.targets) for e in examples) == dec_len
    # 65 tokens: t5_span keeps 55 + 3 sentinels and generates 3 + 10 + 1; seq2seq_lm
    # pivots in [7, 58]. A run of both pads to the longest of each.
    assert seq2seq_lengths(["t5_span"], 65, specials) == (58, 14)
    assert seq2seq_lengths(sorted(SEQ2SEQ_OBJECTIVES), 65, specials) == (58, 58)


def test_clm_shifts_by_one():
    ex = transform("clm", np.array([5, 6, 7, 8]), seed=0, index=0)
    assert ex.inputs.tolist() == [5, 6, 7]
    assert ex.targets.tolist() == [6, 7, 8]


def test_clm_ignores_pad_targets():
    pad = SPECIAL_TOKENS.index(PAD)
    ex = transform("clm", np.array([5, 6, pad, pad]), seed=0, index=0)
    assert ex.targets.tolist() == [6, IGNORE_INDEX, IGNORE_INDEX]


def test_clm_ignores_the_corpus_pad_and_none_without_one():
    specials = SpecialIds(eot=9, pad=7)
    ex = transform("clm", np.array([1, 7, 0, 7]), seed=0, index=0, specials=specials)
    assert ex.targets.tolist() == [IGNORE_INDEX, 0, IGNORE_INDEX]
    ex = transform("prefix_lm", np.array([1, 7, 0, 1]), seed=0, index=0,
                   specials=SpecialIds(eot=9))
    assert IGNORE_INDEX not in ex.targets[ex.prefix - 1:]


def test_every_objective_names_the_special_tokens_it_needs():
    assert set(REQUIRED_TOKENS) == set(OBJECTIVES)
    assert all(tokens[0] == ENDOFTEXT for tokens in REQUIRED_TOKENS.values())
    assert missing_tokens(OBJECTIVES, SpecialIds.default()) == []
    lacking = missing_tokens(["fim", "codegen2", "fim"], SpecialIds(eot=0, sep=1, eom=2))
    assert lacking == ["<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>",
                       *(f"<mask_{k}>" for k in range(1, 33))]


def test_unknown_objective():
    with pytest.raises(ValueError, match="unknown objective 'nope'"):
        transform("nope", np.arange(4), seed=0, index=0)


def test_loss_skips_ignored_targets():
    logits = torch.randn(1, 3, 10)
    targets = torch.tensor([[1, IGNORE_INDEX, 2]])
    expected = torch.nn.functional.cross_entropy(logits[0, [0, 2]], torch.tensor([1, 2]))
    assert cross_entropy(logits, targets).item() == pytest.approx(expected.item())


def test_options_reach_the_objective():
    tokens = np.arange(2, 200, dtype=np.int64) % 90 + 60
    clm = transform("clm", tokens, seed=0, index=3)
    # codegen2 that always takes the causal-LM branch is plain CLM.
    always_clm = transform("codegen2", tokens, seed=0, index=3,
                           options={"clm_probability": 1.0})
    assert np.array_equal(always_clm.inputs, clm.inputs)
    never = transform("codegen2", tokens, seed=0, index=3, options={"clm_probability": 0.0})
    assert not np.array_equal(never.inputs, clm.inputs)


# Text that takes no loss is all "Z" and no other text has one, so a token holds a "Z"
# exactly when it must take no loss, wherever an objective moves it or however it re-encodes.
MARKED = ["⟦ZZZZZZ⟧\nimport os\n\n«def f(x):\n    return x + 1»\n\nemail = '⟦ZZZZ⟧'\n\n"
          "«class A:\n    y = ⟦ZZ⟧\n    w = 3»\n",
          "plain words without definitions, ⟦ZZZ⟧ and more words after it\n",
          "«def g():\n    pass»\n«def h():\n    return ⟦ZZZ⟧»\n"]

FORCED = {"codegen2": {"clm_probability": 0.0}, "fim": {"fim_rate": 1.0}}
"""Settings that make an objective transform every sequence."""


@pytest.fixture(scope="module")
def ranged(tok, tmp_path_factory):
    """A component of ``MARKED`` documents, repeated, as 40-token sequences."""
    documents = [ranged_document(tok, text) for text in MARKED * 6]
    shard = write_ranged_shard(str(tmp_path_factory.mktemp("ranged") / "0.shard"), documents)
    return PackedComponent([shard], seq_len=40)


@pytest.mark.parametrize("name,syntax_spans", [(name, False) for name in DECODER_OBJECTIVES]
                         + [(name, True) for name in sorted(SPAN_OBJECTIVES)])
def test_every_objective_gives_no_loss_to_the_tokens_marked_so(name, tok, ranged,
                                                               syntax_spans):
    marked = np.array(["Z" in tok.decode([i]) for i in range(tok.get_vocab_size())])
    options = dict(FORCED.get(name, {}))
    if name in SPAN_OBJECTIVES:
        options["syntax_spans"] = syntax_spans
    fim_pad = SpecialIds.default().fim_pad
    seen = 0
    for i in range(len(ranged)):
        seq = ranged[i]
        assert marked[seq.tokens].tolist() == seq.no_loss.tolist()
        for index in range(4):
            ex = transform(name, seq.tokens, seed=0, index=i * 4 + index, tokenizer=tok,
                           options=options, no_loss=seq.no_loss, spans=seq.spans)
            shown = ex.inputs[1:]  # the token each target but the last predicts
            ignored = ex.targets[:-1] == IGNORE_INDEX
            start = max(ex.prefix - 1, 0)  # prefix_lm takes no loss inside its prefix
            expected = marked[shown] | (shown == fim_pad)
            assert ignored[start:].tolist() == expected[start:].tolist(), (i, index)
            assert ex.targets[-1] == IGNORE_INDEX or not marked[ex.targets[-1]]
            seen += int(expected[start:].sum())
    assert seen > 0


@pytest.mark.parametrize("name", sorted(SEQ2SEQ_OBJECTIVES))
def test_every_encoder_decoder_objective_marks_no_loss_on_the_marked_targets(name, tok,
                                                                            ranged):
    marked = np.array(["Z" in tok.decode([i]) for i in range(tok.get_vocab_size())])
    seen = 0
    for i in range(len(ranged)):
        seq = ranged[i]
        for index in range(4):
            ex = transform(name, seq.tokens, seed=0, index=i * 4 + index, tokenizer=tok,
                           no_loss=seq.no_loss)
            # Sentinels and the end token are never marked, so a target takes no loss
            # exactly when it holds a "Z".
            assert ex.no_loss.tolist() == marked[ex.targets].tolist(), (i, index)
            seen += int(ex.no_loss.sum())
    assert seen > 0
