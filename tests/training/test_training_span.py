"""training.objectives.span: CodeGen2's causal-LM / span-corruption mixture."""

import numpy as np
import pytest

from tokenizer.special_tokens import NUM_MASKS, PAD, SPECIAL_TOKENS, SpecialIds
from training.config import TrainingConfig, load_config
from training.objectives import IGNORE_INDEX, OBJECTIVES, transform
from training.objectives.clm import causal_lm
from training.objectives.span import codegen2, corrupt_sequence, restore, split_documents

CODEMIX = SpecialIds.default()
EOT_ID, SEP_ID, EOM_ID = CODEMIX.eot, CODEMIX.sep, CODEMIX.eom
MASK_IDS = np.array(CODEMIX.masks)
FIRST_TEXT_ID = len(SPECIAL_TOKENS)  # documents never hold special ids


def packed_sequence(case: int, seq_len: int = 256) -> np.ndarray:
    """A window of ``seq_len + 1`` tokens over EOT-separated random documents.

    Documents are short (0-2 tokens) a quarter of the time, else up to 400 tokens, and the
    window starts at a random offset, so its first and last documents are usually cut.
    """
    rng = np.random.default_rng([1234, case])
    stream = []
    while sum(map(len, stream)) < 3 * seq_len:
        n = rng.integers(0, 3) if rng.random() < 0.25 else rng.integers(3, 400)
        stream += [rng.integers(FIRST_TEXT_ID, 1000, size=n), np.array([EOT_ID])]
    stream = np.concatenate(stream)
    start = rng.integers(0, len(stream) - seq_len - 1)
    return stream[start:start + seq_len + 1].astype(np.int64)


def documents(tokens: np.ndarray) -> list[list[int]]:
    """The pieces between EOT separators, as lists."""
    bounds = np.flatnonzero(tokens == EOT_ID)
    starts, stops = np.r_[0, bounds + 1], np.r_[bounds, len(tokens)]
    return [tokens[a:b].tolist() for a, b in zip(starts, stops)]


def layout(doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A corrupted document's body and infill section (after ``<|endoftext|> <sep>``)."""
    eot = int(np.flatnonzero(doc == EOT_ID)[0])
    assert doc[eot + 1] == SEP_ID
    return doc[:eot], doc[eot + 2:]


CASES = [(seed, index) for seed in (0, 1, 7) for index in range(0, 400, 4)]


@pytest.mark.parametrize("seed,index", CASES[::10])
def test_every_document_is_restored_from_the_corrupted_sequence(seed, index):
    tokens = packed_sequence(index)
    corrupted = corrupt_sequence(tokens, seed=seed, index=index)
    assert [restore(doc).tolist() for doc in split_documents(corrupted)] == documents(tokens)


def test_documents_restore_over_many_seeds_and_indices():
    for seed, index in CASES:
        tokens = packed_sequence(seed * 1000 + index, seq_len=128)
        corrupted = corrupt_sequence(tokens, seed=seed, index=index)
        restored = [restore(doc).tolist() for doc in split_documents(corrupted)]
        assert restored == documents(tokens), (seed, index)


def test_documents_inside_the_example_window_are_restored_exactly():
    for seed, index in CASES:
        tokens = packed_sequence(index, seq_len=512)
        example = codegen2(tokens, seed=seed, index=index)
        window = np.r_[example.inputs, example.targets[-1]]
        corrupted = corrupt_sequence(tokens, seed=seed, index=index)
        if np.array_equal(window, tokens):  # the CLM half of the mixture
            continue
        # The window is the corrupted sequence cut to the input's length.
        np.testing.assert_array_equal(window, corrupted[:len(tokens)])
        originals = documents(tokens)
        start = 0
        for i, doc in enumerate(split_documents(corrupted)):
            stop = start + len(doc)
            complete = stop < len(window) or (stop == len(window) and i == len(originals) - 1)
            if not complete:
                break  # the window cut this document: no exact restore is promised
            assert restore(window[start:stop]).tolist() == originals[i]
            start = stop + 1  # skip the separator
        else:
            pytest.fail("a corrupted sequence always outgrows the window")


def test_a_sequence_with_nothing_to_corrupt_is_not_truncated_and_stays_as_is():
    tokens = np.array([EOT_ID, 50, EOT_ID, EOT_ID, 51, EOT_ID, 52])  # documents of 0-1 tokens
    for index in range(20):
        np.testing.assert_array_equal(corrupt_sequence(tokens, seed=0, index=index), tokens)
        example = codegen2(tokens, seed=0, index=index)
        np.testing.assert_array_equal(example.inputs, tokens[:-1])
        np.testing.assert_array_equal(example.targets, tokens[1:])


def test_same_seed_and_index_give_the_same_example():
    tokens = packed_sequence(3)
    for index in range(50):
        a = codegen2(tokens, seed=5, index=index)
        b = transform("codegen2", tokens.copy(), seed=5, index=index)
        np.testing.assert_array_equal(a.inputs, b.inputs)
        np.testing.assert_array_equal(a.targets, b.targets)


def test_each_epoch_corrupts_the_same_sequence_afresh():
    tokens = np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 257)  # one long document
    num_sequences = 1000  # index of the same sequence one epoch later: index + 1000
    for index in range(20):
        first = corrupt_sequence(tokens, seed=0, index=index)
        later = corrupt_sequence(tokens, seed=0, index=index + num_sequences)
        assert not np.array_equal(first, later)
    epochs = [codegen2(tokens, seed=0, index=7 + epoch * num_sequences).inputs
              for epoch in range(20)]
    corrupted = [e.tobytes() for e in epochs if not np.array_equal(e, tokens[:-1])]
    assert len(corrupted) >= 5 and len(set(corrupted)) == len(corrupted)


def test_seed_changes_the_corruption():
    tokens = np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 257)
    assert not np.array_equal(corrupt_sequence(tokens, seed=0, index=3),
                              corrupt_sequence(tokens, seed=1, index=3))


def test_example_shapes_and_dtypes():
    tokens = packed_sequence(9, seq_len=64).astype(np.uint32)  # shards store uint32
    for index in range(40):
        example = codegen2(tokens, seed=0, index=index)
        assert example.inputs.shape == example.targets.shape == (64,)
        assert example.inputs.dtype == example.targets.dtype == np.int64
        np.testing.assert_array_equal(example.inputs[1:], example.targets[:-1])


def test_loss_is_on_every_token_but_padding():
    pad = SPECIAL_TOKENS.index(PAD)
    tokens = np.r_[np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 30), [pad, pad]]
    for index in range(20):
        example = codegen2(tokens, seed=0, index=index, clm_probability=0.0)
        window = corrupt_sequence(tokens, seed=0, index=index)[:len(tokens)]
        expected = np.where(window[1:] == pad, IGNORE_INDEX, window[1:])
        np.testing.assert_array_equal(example.targets, expected)


def test_about_half_the_samples_are_plain_causal_lm():
    tokens = np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 65)
    clm = causal_lm(tokens, seed=0, index=0)
    plain = sum(np.array_equal(codegen2(tokens, seed=2, index=i).inputs, clm.inputs)
                for i in range(2000))
    assert 0.45 < plain / 2000 < 0.55


def test_clm_probability_is_a_keyword():
    tokens = np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 65)
    clm = causal_lm(tokens, seed=0, index=0)
    for index in range(20):
        always = codegen2(tokens, seed=0, index=index, clm_probability=1.0)
        never = codegen2(tokens, seed=0, index=index, clm_probability=0.0)
        np.testing.assert_array_equal(always.inputs, clm.inputs)
        assert not np.array_equal(never.inputs, clm.inputs)


@pytest.mark.parametrize("max_spans", [1, 4, NUM_MASKS])
def test_spans_per_document_stay_within_the_sentinels(max_spans):
    tokens = np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 2049)  # long enough for 32 spans
    counts = []
    for index in range(300):
        corrupted = corrupt_sequence(tokens, seed=0, index=index, max_spans=max_spans)
        body, _ = layout(split_documents(corrupted)[0])
        counts.append(int(np.isin(body, MASK_IDS).sum()))
    assert 1 <= min(counts) and max(counts) == max_spans


def test_mask_ratio_stays_within_its_bounds():
    low, high = 0.1, 0.3
    for index in range(200):
        n = 20 + index
        tokens = np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + n)
        corrupted = corrupt_sequence(tokens, seed=0, index=index, mask_ratio=(low, high))
        body, _ = layout(corrupted)
        spans = int(np.isin(body, MASK_IDS).sum())
        masked = n - (len(body) - spans)
        assert low * n - 0.5 <= masked <= high * n + 0.5


def test_layout_uses_the_tokenizer_sentinels():
    assert MASK_IDS.tolist() == [SPECIAL_TOKENS.index(f"<mask_{k}>") for k in range(1, 33)]
    tokens = np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 200)
    for index in range(50):
        body, infill = layout(corrupt_sequence(tokens, seed=0, index=index))
        holes = np.flatnonzero(np.isin(body, MASK_IDS))
        k = len(holes)
        assert body[holes].tolist() == MASK_IDS[:k].tolist()  # <mask_1>, <mask_2>, ... in order
        assert np.all(np.diff(holes) > 1)  # a kept token between any two spans
        ends = np.flatnonzero(infill == EOM_ID)
        assert len(ends) == k and ends[-1] == len(infill) - 1
        assert infill[np.r_[0, ends[:-1] + 1]].tolist() == MASK_IDS[:k].tolist()
        assert np.all(np.diff(np.r_[-1, ends]) > 2)  # every span holds at least one token
        assert not np.isin(infill, [EOT_ID, SEP_ID]).any()


def test_codegen2_infill_format():
    # The CodeGen2 model card's layout: prefix <mask_1> suffix <|endoftext|> <sep> <mask_1>
    # middle <eom>.
    a, b, c = 100, 101, 102
    doc = np.array([a, MASK_IDS[0], c, EOT_ID, SEP_ID, MASK_IDS[0], b, EOM_ID])
    assert restore(doc).tolist() == [a, b, c]


def test_restore_rejects_what_corruption_cannot_produce():
    m1, m2 = MASK_IDS[:2]
    with pytest.raises(ValueError, match="expected one <|endoftext|> <sep>"):
        restore(np.array([100, m1, EOT_ID, 100]))
    with pytest.raises(ValueError, match="do not match"):
        restore(np.array([100, m1, EOT_ID, SEP_ID, m2, 101, EOM_ID]))
    with pytest.raises(ValueError, match="do not match"):
        restore(np.array([100, m1, EOT_ID, SEP_ID, m1, 101]))  # cut before <eom>


@pytest.mark.parametrize("kwargs,message", [
    ({"clm_probability": 1.5}, "clm_probability must be in"),
    ({"mask_ratio": (0.0, 0.5)}, "mask_ratio must be"),
    ({"mask_ratio": (0.6, 0.5)}, "mask_ratio must be"),
    ({"mask_ratio": (0.1, 1.0)}, "mask_ratio must be"),
    ({"max_spans": 0}, "max_spans must be in"),
    ({"max_spans": NUM_MASKS + 1}, "max_spans must be in"),
])
def test_impossible_settings_are_rejected_up_front(kwargs, message):
    with pytest.raises(ValueError, match=message):
        codegen2(np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 9), seed=0, index=0, **kwargs)


@pytest.mark.parametrize("tokens", [np.array([100]), np.zeros((2, 5), dtype=np.int64)])
def test_tokens_must_be_one_sequence(tokens):
    with pytest.raises(ValueError, match="tokens must be 1-D"):
        codegen2(tokens, seed=0, index=0)


def test_selectable_by_name():
    assert OBJECTIVES["codegen2"] is codegen2
    tokens = packed_sequence(4, seq_len=32)
    a = transform("codegen2", tokens, seed=0, index=11)
    b = codegen2(tokens, seed=0, index=11)
    np.testing.assert_array_equal(a.targets, b.targets)


def test_training_config_accepts_codegen2(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("data:\n  manifest: m.json\ntraining:\n  objective: codegen2\n",
                    encoding="utf-8")
    assert load_config(str(path)).training.objective == "codegen2"
    assert load_config(str(path), ["training.objective=codegen2"]).training.objective \
        == TrainingConfig(objective="codegen2").objective


FOREIGN = SpecialIds(eot=70_000, pad=70_001, sep=70_002, eom=70_003,
                     masks=tuple(range(70_010, 70_010 + NUM_MASKS)))
"""A given tokenizer's layout: every special token after a vocabulary of 70,000."""


def to_foreign(ids: np.ndarray) -> np.ndarray:
    """``ids`` with every codemix special id replaced by ``FOREIGN``'s."""
    table = {CODEMIX.eot: FOREIGN.eot, CODEMIX.pad: FOREIGN.pad, CODEMIX.sep: FOREIGN.sep,
             CODEMIX.eom: FOREIGN.eom, **dict(zip(CODEMIX.masks, FOREIGN.masks))}
    return np.array([table.get(int(i), int(i)) for i in ids], dtype=np.int64)


@pytest.mark.parametrize("seed,index", CASES[::25])
def test_corruption_uses_the_corpus_special_ids(seed, index):
    tokens = packed_sequence(index)
    corrupted = corrupt_sequence(tokens, seed=seed, index=index)
    foreign = corrupt_sequence(to_foreign(tokens), seed=seed, index=index, specials=FOREIGN)
    np.testing.assert_array_equal(foreign, to_foreign(corrupted))
    assert not np.isin(foreign, list(CODEMIX.masks) + [EOT_ID, SEP_ID, EOM_ID]).any()
    # Documents hold no special ids, so they read the same in either layout.
    restored = [restore(doc, FOREIGN).tolist() for doc in split_documents(foreign, FOREIGN)]
    assert restored == documents(tokens)
    example = transform("codegen2", to_foreign(tokens), seed=seed, index=index,
                        specials=FOREIGN, options={"clm_probability": 0.0})
    np.testing.assert_array_equal(example.inputs, foreign[:len(tokens) - 1])


def with_definitions(case: int, seq_len: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``packed_sequence(case)`` and top-level definitions in it: in about two thirds of
    its documents, 1-6 disjoint, non-touching spans of 2-20 tokens, as window positions."""
    tokens = packed_sequence(case, seq_len)
    rng = np.random.default_rng([99, case])
    spans = []
    bounds = np.flatnonzero(tokens == EOT_ID)
    for start, stop in zip(np.r_[0, bounds + 1], np.r_[bounds, len(tokens)]):
        pos = start
        for _ in range(rng.integers(0, 7) if rng.random() < 0.67 else 0):
            a = pos + rng.integers(1, 8)
            b = a + rng.integers(2, 21)
            if b >= stop:
                break
            spans.append((a, b))
            pos = b
    return tokens, np.array(spans, dtype=np.int64).reshape(-1, 2)


def infill_spans(doc: np.ndarray) -> list[list[int]]:
    """The masked spans of one corrupted document, in order."""
    _, infill = layout(doc)
    ends = np.flatnonzero(infill == EOM_ID)
    return [infill[a + 1:b].tolist() for a, b in zip(np.r_[0, ends[:-1] + 1], ends)]


@pytest.mark.parametrize("seed,index", CASES[::10])
def test_syntax_aligned_corruption_restores_every_document(seed, index):
    tokens, spans = with_definitions(index)
    corrupted = corrupt_sequence(tokens, seed=seed, index=index, spans=spans)
    assert [restore(doc).tolist() for doc in split_documents(corrupted)] == documents(tokens)


def test_syntax_aligned_spans_are_whole_definitions():
    checked = 0
    for seed, index in CASES:
        tokens, spans = with_definitions(index, seq_len=128)
        bounds = np.flatnonzero(tokens == EOT_ID)
        starts, stops = np.r_[0, bounds + 1], np.r_[bounds, len(tokens)]
        corrupted = split_documents(corrupt_sequence(tokens, seed=seed, index=index,
                                                     spans=spans, max_spans=4))
        for start, stop, doc in zip(starts, stops, corrupted):
            inside = spans[(spans[:, 0] >= start) & (spans[:, 1] <= stop)]
            if not len(inside) or stop - start < 2:
                continue
            definitions = [tokens[a:b].tolist() for a, b in inside]
            masked = infill_spans(doc)
            assert 1 <= len(masked) <= min(len(inside), 4)
            assert all(span in definitions for span in masked)  # none touch: no merging
            checked += 1
    assert checked > 100


def test_touching_definitions_are_masked_as_one_span():
    tokens = np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 12)
    spans = np.array([[2, 5], [5, 8]])
    for index in range(10):  # a ratio near 1 chooses both definitions
        doc = corrupt_sequence(tokens, seed=0, index=index, spans=spans, mask_ratio=(0.9, 0.99))
        assert infill_spans(doc) == [tokens[2:8].tolist()]
        assert restore(doc).tolist() == tokens.tolist()


def test_documents_without_definitions_keep_random_spans():
    tokens = packed_sequence(5)
    for index in range(20):
        np.testing.assert_array_equal(
            corrupt_sequence(tokens, seed=0, index=index, spans=np.zeros((0, 2), np.int64)),
            corrupt_sequence(tokens, seed=0, index=index))


def test_each_epoch_masks_other_definitions():
    tokens = np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 257)  # one document, 12 definitions
    spans = np.array([[a, a + 15] for a in range(5, 245, 20)])
    draws = {tuple(map(tuple, infill_spans(corrupt_sequence(
        tokens, seed=0, index=7 + epoch * 1000, spans=spans)))) for epoch in range(20)}
    assert len(draws) >= 15


def test_codegen2_places_spans_on_definitions_only_when_asked():
    tokens, spans = with_definitions(3)
    for index in range(20):
        random = codegen2(tokens, seed=0, index=index, clm_probability=0.0, spans=spans)
        aligned = codegen2(tokens, seed=0, index=index, clm_probability=0.0, spans=spans,
                           syntax_spans=True)
        window = np.r_[aligned.inputs, aligned.targets[-1]]
        np.testing.assert_array_equal(
            window, corrupt_sequence(tokens, seed=0, index=index, spans=spans)[:len(tokens)])
        np.testing.assert_array_equal(
            random.inputs, corrupt_sequence(tokens, seed=0, index=index)[:len(tokens) - 1])


def test_no_loss_follows_tokens_into_the_infill_section():
    # Ids from 900 up take no loss; a definition holds two of them, the text around one.
    # A second document gives the first one room to grow inside the window.
    tokens = np.r_[900, np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 20), EOT_ID,
                   np.arange(FIRST_TEXT_ID, FIRST_TEXT_ID + 30)]
    tokens[[8, 9]] = [901, 902]
    no_loss = tokens >= 900
    spans = np.array([[5, 12]])
    for index in range(10):
        example = codegen2(tokens, seed=0, index=index, clm_probability=0.0, spans=spans,
                           syntax_spans=True, no_loss=no_loss)
        window = np.r_[example.inputs, example.targets[-1]]
        body, infill = layout(window[:np.flatnonzero(window == EOM_ID)[0] + 1])
        assert infill[1:-1].tolist() == tokens[5:12].tolist()  # the definition moved
        ignored = np.r_[False, example.targets == IGNORE_INDEX]
        assert window[ignored].tolist() == [901, 902]  # the first token is no target
        assert (window[~ignored][1:] < 900).all()
