"""training.objectives.fim: PSM and SPM at character level, re-encoded, window kept."""

import numpy as np
import pytest
from corpus_builder import (ranged_document, read_metrics, stdlib_texts, train_tokenizer,
                            write_ranged_shard, write_train_config)

from tokenizer.encode import decode, encode_batch
from tokenizer.load import adopt
from tokenizer.special_tokens import ENDOFTEXT, SpecialIds
from training.config import TrainingConfig, load_config
from training.data.packing import PackedComponent
from training.objectives import IGNORE_INDEX, OBJECTIVES, transform
from training.objectives.fim import fim
from training.train import main

CODEMIX = SpecialIds.default()
EOT_ID, FIM_PAD_ID = CODEMIX.eot, CODEMIX.fim_pad
FIM_PREFIX_ID, FIM_MIDDLE_ID, FIM_SUFFIX_ID = (CODEMIX.fim_prefix, CODEMIX.fim_middle,
                                               CODEMIX.fim_suffix)

# Non-ASCII text too, so cut points fall between the bytes of one token's characters.
TEXTS = ["def add(a, b):\n    return a + b\n",
         "# café, naïve, λx: x — ünïcode\nname = 'Zoë'\n",
         "class Stack:\n    def __init__(self):\n        self.items = []\n",
         "x = 1\n"]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(stdlib_texts(100_000)["code-python"] + TEXTS, 400)


def packed(tok, texts, filler=400, sp=CODEMIX):
    """``texts`` joined by EOT, then a long last document that absorbs the window's cut."""
    docs = encode_batch(tok, [*texts, "long_filler_name = 0\n" * filler])
    eot = np.array([sp.eot])
    return np.concatenate([p for d in docs for p in (d.astype(np.int64), eot)][:-1])


def window(tok, texts):
    """A window of ``seq_len + 1`` tokens that holds all of ``texts`` with room to grow."""
    return packed(tok, texts)[:len(packed(tok, texts, filler=0)) + 60]


def sample(example):
    """The transformed sequence (``seq_len + 1`` ids) an Example was shifted from."""
    return np.append(example.inputs, example.targets[-1])


def pieces(sequence, sp=CODEMIX):
    """The documents of a sequence whose EOT follows them (not cut by the window)."""
    eot = np.flatnonzero(sequence == sp.eot)
    starts = np.concatenate([[0], eot[:-1] + 1])
    return [sequence[a:b] for a, b in zip(starts, eot)]


def restore(tok, doc, sp=CODEMIX):
    """A transformed document's original text: prefix + middle + suffix."""
    if doc[0] != sp.fim_prefix:
        return decode(tok, doc)
    assert [np.count_nonzero(doc == s) for s in (sp.fim_prefix, sp.fim_suffix,
                                                  sp.fim_middle)] == [1, 1, 1]
    s, m = np.flatnonzero(doc == sp.fim_suffix)[0], np.flatnonzero(doc == sp.fim_middle)[0]
    assert s < m
    # PSM: prefix between <fim_prefix> and <fim_suffix>; SPM: none there, prefix + middle
    # after <fim_middle>; either way the text is that, then the tail, then the suffix.
    return decode(tok, doc[1:s]) + decode(tok, doc[m + 1:]) + decode(tok, doc[s + 1:m])


def is_spm(doc):
    return doc[0] == FIM_PREFIX_ID and doc[1] == FIM_SUFFIX_ID


@pytest.mark.parametrize("spm_rate", [0.0, 0.5, 1.0])
def test_every_document_is_restored_exactly(tok, spm_rate):
    tokens = window(tok, TEXTS)
    for index in range(20):
        example = fim(tokens, seed=1, index=index, tokenizer=tok, fim_rate=1.0,
                      spm_rate=spm_rate)
        docs = pieces(sample(example))
        assert len(docs) == len(TEXTS)
        for doc, text in zip(docs, TEXTS):
            assert doc[0] == FIM_PREFIX_ID
            assert restore(tok, doc) == text
            if spm_rate == 1.0:
                assert is_spm(doc)


def test_spm_is_psm_with_the_prefix_moved_after_fim_middle(tok):
    tokens = window(tok, TEXTS)
    for index in range(10):
        psm = pieces(sample(fim(tokens, seed=2, index=index, tokenizer=tok, fim_rate=1.0,
                                spm_rate=0.0)))
        spm = pieces(sample(fim(tokens, seed=2, index=index, tokenizer=tok, fim_rate=1.0,
                                spm_rate=1.0)))
        for p, s in zip(psm, spm):
            cut, mid = np.flatnonzero(p == FIM_SUFFIX_ID)[0], np.flatnonzero(p == FIM_MIDDLE_ID)[0]
            prefix, suffix, middle = p[1:cut], p[cut + 1:mid], p[mid + 1:]
            expected = np.concatenate([[FIM_PREFIX_ID, FIM_SUFFIX_ID], suffix, [FIM_MIDDLE_ID],
                                       prefix, middle])
            np.testing.assert_array_equal(s, expected)


def test_parts_are_cut_at_characters_and_encoded_on_their_own(tok):
    text = TEXTS[1]
    tokens = window(tok, [text])
    seen_inside_token = False
    for index in range(40):
        doc = pieces(sample(fim(tokens, seed=0, index=index, tokenizer=tok, fim_rate=1.0,
                                spm_rate=0.0)))[0]
        cut, mid = np.flatnonzero(doc == FIM_SUFFIX_ID)[0], np.flatnonzero(doc == FIM_MIDDLE_ID)[0]
        prefix, suffix, middle = (decode(tok, p) for p in (doc[1:cut], doc[cut + 1:mid],
                                                            doc[mid + 1:]))
        assert prefix + middle + suffix == text
        for part, ids in ((prefix, doc[1:cut]), (suffix, doc[cut + 1:mid]),
                          (middle, doc[mid + 1:])):
            np.testing.assert_array_equal(ids, encode_batch(tok, [part])[0])
        whole = {len(decode(tok, encode_batch(tok, [text])[0][:k]))
                 for k in range(len(tokens))}
        seen_inside_token |= len(prefix) not in whole
    assert seen_inside_token  # character level: cuts are not limited to token boundaries


def test_same_seed_and_index_give_the_same_example(tok):
    tokens = window(tok, TEXTS)
    a = transform("fim", tokens, seed=3, index=5, tokenizer=tok)
    b = transform("fim", tokens.copy(), seed=3, index=5, tokenizer=tok)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)


def test_each_index_splits_afresh_and_the_seed_matters(tok):
    tokens = window(tok, TEXTS)

    def inputs(seed, index):
        return fim(tokens, seed=seed, index=index, tokenizer=tok, fim_rate=1.0).inputs.tobytes()

    assert len({inputs(0, index) for index in range(10)}) == 10
    assert inputs(0, 3) != inputs(1, 3)


@pytest.mark.parametrize("fim_rate", [0.5, 0.2])
def test_fim_rate_is_the_share_of_transformed_sequences(tok, fim_rate):
    tokens = window(tok, TEXTS)
    n = 400
    transformed = [FIM_PREFIX_ID in fim(tokens, seed=0, index=i, tokenizer=tok,
                                        fim_rate=fim_rate).inputs for i in range(n)]
    assert abs(np.mean(transformed) - fim_rate) < 4 * np.sqrt(fim_rate * (1 - fim_rate) / n)


def test_a_sequence_left_causal_is_plain_clm(tok):
    tokens = window(tok, TEXTS)
    example = fim(tokens, seed=0, index=0, tokenizer=tok, fim_rate=0.0)
    np.testing.assert_array_equal(example.inputs, tokens[:-1])
    np.testing.assert_array_equal(example.targets, tokens[1:])


@pytest.mark.parametrize("spm_rate", [0.5, 0.3])
def test_spm_rate_is_the_share_of_spm_documents(tok, spm_rate):
    tokens = window(tok, TEXTS)
    modes = [is_spm(doc) for i in range(150)
             for doc in pieces(sample(fim(tokens, seed=4, index=i, tokenizer=tok,
                                          fim_rate=1.0, spm_rate=spm_rate)))]
    n = len(modes)
    # A PSM document whose prefix is empty reads as SPM: a little above spm_rate is fine.
    assert abs(np.mean(modes) - spm_rate) < 4 * np.sqrt(spm_rate * (1 - spm_rate) / n) + 0.03


def test_shapes_dtypes_and_loss_on_every_token(tok):
    tokens = window(tok, TEXTS)
    for index in range(5):
        example = fim(tokens, seed=0, index=index, tokenizer=tok, fim_rate=1.0)
        assert example.inputs.shape == example.targets.shape == (len(tokens) - 1,)
        assert example.inputs.dtype == example.targets.dtype == np.int64
        assert example.prefix == 0
        assert (example.targets != IGNORE_INDEX).all()
        np.testing.assert_array_equal(example.inputs[1:], example.targets[:-1])


def test_a_shorter_result_is_padded_with_fim_pad_that_takes_no_loss(tok):
    # One token per character: re-encoding the text merges them, so the result is shorter.
    text = "abcdefghij" * 6
    tokens = np.array([tok.token_to_id(c) for c in text] + [EOT_ID], dtype=np.int64)
    example = fim(tokens, seed=0, index=0, tokenizer=tok, fim_rate=1.0)
    pad = np.flatnonzero(example.inputs == FIM_PAD_ID)
    assert len(pad) > 0 and pad[-1] == len(example.inputs) - 1
    assert (example.targets[pad[0] - 1:] == IGNORE_INDEX).all()
    assert (example.targets[:pad[0] - 1] != IGNORE_INDEX).all()
    assert restore(tok, pieces(sample(example)[:pad[0]])[0]) == text


def test_documents_without_text_keep_their_tokens(tok):
    # A window cut through a multi-byte character ("»" is byte 0xBB alone), then an empty
    # document: neither has text to split.
    cut = [tok.token_to_id("»"), tok.token_to_id("a")]
    tokens = np.concatenate([cut, [EOT_ID, EOT_ID], packed(tok, TEXTS[:1])])[:60]
    sequence = sample(fim(tokens, seed=0, index=0, tokenizer=tok, fim_rate=1.0))
    np.testing.assert_array_equal(sequence[:4], [*cut, EOT_ID, EOT_ID])
    assert sequence[4] == FIM_PREFIX_ID


@pytest.mark.parametrize("kwargs, message", [
    ({"fim_rate": 1.5}, "fim_rate must be in"),
    ({"spm_rate": -0.1}, "spm_rate must be in"),
])
def test_rates_outside_zero_one_are_refused(tok, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fim(np.arange(100, 120), seed=0, index=0, tokenizer=tok, **kwargs)


def test_tokens_must_be_one_sequence(tok):
    with pytest.raises(ValueError, match="tokens must be 1-D"):
        fim(np.array([5]), seed=0, index=0, tokenizer=tok)


def test_selectable_by_name_and_needs_the_tokenizer(tok):
    assert OBJECTIVES["fim"] is fim
    tokens = window(tok, TEXTS)
    a = transform("fim", tokens, seed=0, index=1, tokenizer=tok)
    b = fim(tokens, seed=0, index=1, tokenizer=tok)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    with pytest.raises(ValueError, match="objective 'fim' re-encodes text and needs the tok"):
        transform("fim", tokens, seed=0, index=1)


def test_training_config_accepts_fim(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("data:\n  manifest: m.json\ntraining:\n  objective: fim\n", encoding="utf-8")
    assert load_config(str(path)).training.objective == "fim"
    assert TrainingConfig(objective="fim").objective == "fim"


def test_a_training_run_with_fim_lowers_the_loss(tiny_manifest, tmp_path):
    cfg = write_train_config(tmp_path / "train.yaml", tiny_manifest, tmp_path / "out",
                             training={"objective": "fim", "steps": 20})
    assert main([cfg]) == 0
    metrics = read_metrics(tmp_path / "out")
    assert metrics[-1]["step"] == 20
    assert metrics[-1]["loss"] < metrics[0]["loss"] - 0.5


def test_sentinels_are_the_corpus_special_ids():
    # A given tokenizer: its FIM tokens come after its vocabulary, documents end with </s>.
    foreign = train_tokenizer(stdlib_texts(100_000)["code-python"] + TEXTS, 400, ())
    foreign.add_special_tokens(["</s>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>",
                                "<fim_pad>"])
    sp = SpecialIds.from_mapping(adopt(foreign, names={ENDOFTEXT: "</s>"}))
    assert sp.eot == foreign.token_to_id("</s>") and min(sp.fim_prefix, sp.eot) >= 400
    tokens = packed(foreign, TEXTS, sp=sp)[:len(packed(foreign, TEXTS, 0, sp)) + 60]
    for index in range(4):
        example = transform("fim", tokens, seed=0, index=index, tokenizer=foreign,
                            specials=sp, options={"fim_rate": 1.0})
        docs = pieces(sample(example), sp)
        assert len(docs) == len(TEXTS)
        assert all(doc[0] == sp.fim_prefix for doc in docs)
        assert [restore(foreign, doc, sp) for doc in docs] == TEXTS


RANGED = ["⟦# Copyright (c) 2024 Example.⟧\nimport os\n\n«def add(a, b):\n    return a + b»\n\n"
          "«class Box:\n    owner = '⟦<EMAIL>⟧'\n    size = 3»\n\nx = 1\n",
          "Words only, one of them ⟦<NAME>⟧ without loss.\n",
          "«def one():\n    return 1»\n«def two():\n    return 2»\n"
          "«def three():\n    return 3»\n"]
"""Documents with their definitions in «» and the text that takes no loss in ⟦⟧."""


@pytest.fixture(scope="module")
def ranged(tok, tmp_path_factory):
    """``RANGED``, then a long filler document, as one window (``packed`` with ranges),
    and the documents."""
    docs = [ranged_document(tok, text) for text in RANGED]
    filler = ranged_document(tok, "long_filler_name = 0\n" * 400)
    shard = write_ranged_shard(str(tmp_path_factory.mktemp("ranged") / "0.shard"),
                               [*docs, filler])
    seq_len = sum(len(d.ids) + 1 for d in docs) + 60
    return PackedComponent([shard], seq_len)[0], docs


def masked_restore(tok, doc, no_loss, sp=CODEMIX):
    """``restore`` of a transformed document whose tokens (ASCII text) carry a no-loss
    flag: its text, and for each character whether its token takes no loss."""
    s, m = np.flatnonzero(doc == sp.fim_suffix)[0], np.flatnonzero(doc == sp.fim_middle)[0]
    text, flags = "", []
    for part in (slice(1, s), slice(m + 1, None), slice(s + 1, m)):  # prefix, middle, suffix
        for token, flag in zip(doc[part], no_loss[part]):
            piece = decode(tok, [token])
            text += piece
            flags += [bool(flag)] * len(piece)
    return text, flags


def char_mask(doc):
    flags = [False] * len(doc.text)
    for a, b in doc.chars.get("no_loss", ()):
        flags[a:b] = [True] * (b - a)
    return flags


@pytest.mark.parametrize("syntax_spans", [False, True])
def test_no_loss_follows_the_text_through_re_encoding(tok, ranged, syntax_spans):
    seq, docs = ranged
    for index in range(30):
        example = fim(seq.tokens, seed=0, index=index, tokenizer=tok, fim_rate=1.0,
                      syntax_spans=syntax_spans, no_loss=seq.no_loss, spans=seq.spans)
        window = sample(example)
        no_loss = np.r_[False, example.targets == IGNORE_INDEX]  # the first is <fim_prefix>
        eot = np.flatnonzero(window == EOT_ID)
        for doc, a, b in zip(docs, np.r_[0, eot[:-1] + 1], eot):
            text, flags = masked_restore(tok, window[a:b], no_loss[a:b])
            assert text == doc.text
            assert flags == char_mask(doc), (index, doc.text)


def test_function_level_fim_infills_one_whole_definition(tok, ranged):
    seq, docs = ranged
    middles = set()
    for index in range(30):
        example = fim(seq.tokens, seed=0, index=index, tokenizer=tok, fim_rate=1.0,
                      spm_rate=0.0, syntax_spans=True, spans=seq.spans)
        transformed = pieces(sample(example))
        assert [restore(tok, d) for d in transformed] == [d.text for d in docs]
        for doc, out in zip(docs, transformed):
            definitions = [doc.text[a:b] for a, b in doc.chars.get("spans", ())]
            middle = decode(tok, out[np.flatnonzero(out == FIM_MIDDLE_ID)[0] + 1:])
            if definitions:
                assert middle in definitions
                middles.add(middle)
    assert len(middles) == 5  # every definition of both documents, over the indices


def test_a_mask_edge_inside_a_character_keeps_the_document(tok):
    # "é" is two byte tokens here; a mask on its first byte has no character offset.
    ids = encode_batch(tok, ['name = "café"\n'])[0].astype(np.int64)
    first = next(i for i, t in enumerate(ids) if decode(tok, [t]) == "\ufffd")
    tokens = np.r_[ids, EOT_ID, packed(tok, TEXTS[:1])][:40]
    no_loss = np.zeros(len(tokens), bool)
    no_loss[first] = True
    example = fim(tokens, seed=0, index=0, tokenizer=tok, fim_rate=1.0, no_loss=no_loss)
    np.testing.assert_array_equal(sample(example)[:len(ids) + 1], tokens[:len(ids) + 1])
    assert np.flatnonzero(example.targets == IGNORE_INDEX).tolist() == [first - 1]
    assert sample(example)[len(ids) + 1] == FIM_PREFIX_ID  # the next document is FIM
