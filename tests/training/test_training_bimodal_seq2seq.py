"""The bimodal losses on an encoder-decoder: one pair per example, the batch's pairs, the
contrastive and matching rows, and the passes' losses against a hand computation."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_training_bimodal_objective import pair_window

from tokenizer.special_tokens import SpecialIds
from training.bimodal import (BimodalLoss, pair_sides, pooled, seq2seq_matching_rows,
                              side_rows)
from training.config import ObjectivesConfig
from training.data.loader import MixtureLoader, collate_seq2seq
from training.data.sampler import ComponentSpec, MixtureSampler, plan_mixture
from training.metrics import GroupLosses
from training.model import ModelArgs, Transformer
from training.objectives import seq2seq_lengths, transform
from training.objectives.bimodal import bimodal_seq2seq, complete_pairs, directions
from training.objectives.seq2seq_lm import seq2seq_lm

CODEMIX = SpecialIds.default()
EOT, SEP = CODEMIX.eot, CODEMIX.sep
TEXTS, CODES = [[10, 11], [12], [13, 14, 15]], [[20, 21, 22], [23, 24], [25]]
# Three complete pairs, a partial document at each end.
WINDOW = np.r_[7, EOT, 10, 11, SEP, 20, 21, 22, EOT, 12, SEP, 23, 24, EOT, 13, 14, 15, SEP,
               25, EOT, 30, SEP, 31]


def test_an_example_is_one_pair_laid_out_as_seed_and_index_draw_it():
    # Measured once, then pinned: index 0 draws pair 1 code->text, index 1 pair 0 text->code.
    first = bimodal_seq2seq(WINDOW, seed=3, index=0)
    assert (first.inputs.tolist(), first.targets.tolist()) == ([23, 24, EOT], [12, EOT])
    assert first.pairs.tolist() == [[3, 4, 0, 2]]  # in np.r_[inputs, targets]
    second = bimodal_seq2seq(WINDOW, seed=3, index=1)
    assert (second.inputs.tolist(), second.targets.tolist()) == ([10, 11, EOT],
                                                                 [20, 21, 22, EOT])
    assert second.pairs.tolist() == [[0, 2, 3, 6]]
    seen = set()
    for index in range(80):
        ex = transform("bimodal", WINDOW, seed=3, index=index, encoder_decoder=True)
        again = bimodal_seq2seq(WINDOW.copy(), seed=3, index=index)
        assert (ex.inputs.tolist(), ex.targets.tolist()) == (again.inputs.tolist(),
                                                             again.targets.tolist())
        (text, code), = zip(*pair_sides(np.r_[ex.inputs, ex.targets][None],
                                        np.c_[0, ex.pairs]))
        k = TEXTS.index(text.tolist())
        assert code.tolist() == CODES[k]
        # The pair's direction is its own draw of the decoder-only layout's directions.
        forward = bool(directions(3, index, 3)[k])
        condition, generated = (text, code) if forward else (code, text)
        assert ex.inputs.tolist() == [*condition, EOT]
        assert ex.targets.tolist() == [*generated, EOT]
        seen.add((k, forward))
    assert len(seen) == 6  # every pair, both ways


@pytest.mark.parametrize("rate, forward", [(1.0, True), (0.0, False)])
def test_the_rate_sets_the_direction(rate, forward):
    for index in range(10):
        ex = transform("bimodal", WINDOW, seed=0, index=index, encoder_decoder=True,
                       options={"text_to_code_rate": rate})
        assert (ex.pairs[0, 0] == 0) == forward  # text->code: the docstring is the input


def test_a_window_without_a_complete_pair_is_seq2seq_lm():
    tokens = np.r_[np.arange(200, 240), EOT, np.arange(300, 330)]
    ex = bimodal_seq2seq(tokens, seed=0, index=4)
    lm = seq2seq_lm(tokens, seed=0, index=4)
    assert (ex.inputs.tolist(), ex.targets.tolist()) == (lm.inputs.tolist(),
                                                         lm.targets.tolist())
    assert ex.pairs.shape == (0, 4)


def test_no_loss_marks_follow_the_generated_side():
    no_loss = np.isin(WINDOW, [11, 21, 22, 24])
    for index in range(20):
        ex = bimodal_seq2seq(WINDOW, seed=1, index=index, no_loss=no_loss)
        assert ex.no_loss.tolist() == [t in (11, 21, 22, 24) for t in ex.targets[:-1]] + [
            False]


def test_the_lengths_hold_every_example():
    windows = [pair_window(case, seq_len=64) for case in range(100)]
    enc_len, dec_len = seq2seq_lengths(["bimodal"], 65, CODEMIX)
    assert (enc_len, dec_len) == (61, 61)
    examples = [bimodal_seq2seq(w, seed=0, index=i) for i, w in enumerate(windows)]
    assert sum(len(e.pairs) for e in examples) > 40  # the others are seq2seq_lm
    assert max(len(e.inputs) for e in examples) <= enc_len
    assert max(len(e.targets) for e in examples) <= dec_len
    # The bound is reached: a pair spanning the window between its first and last EOT.
    longest = np.r_[EOT, 10, SEP, np.arange(20, 80), EOT, 5]
    assert complete_pairs(longest).tolist() == [[1, 2, 63]]
    assert len(bimodal_seq2seq(longest, seed=0, index=1, text_to_code_rate=1.0).targets) == 61


def test_a_batch_s_pairs_index_the_encoder_ids_then_the_decoder_ids():
    examples = [bimodal_seq2seq(WINDOW, seed=3, index=i) for i in (0, 1)]
    examples.append(seq2seq_lm(np.arange(100, 110), seed=0, index=0))
    batch = collate_seq2seq(examples, [0, 0, 1], lengths=(9, 9), start=EOT, paired=True)
    assert batch.pairs.tolist() == [[0, 9 + 1, 9 + 2, 0, 2], [1, 0, 2, 9 + 1, 9 + 4]]
    texts, codes = pair_sides(batch.joined.numpy(), batch.pairs.numpy())
    assert [t.tolist() for t in texts] == [[12], [10, 11]]
    assert [c.tolist() for c in codes] == [[23, 24], [20, 21, 22]]
    assert collate_seq2seq(examples, [0, 0, 1], lengths=(9, 9), start=EOT).pairs is None


def test_an_encoder_decoder_loader_makes_one_pair_examples_and_refuses_decoder_objectives():
    components = {"code": [SimpleNamespace(tokens=np.arange(100, 123), no_loss=None,
                                           spans=None)] * 40,
                  "pairs": [SimpleNamespace(tokens=WINDOW, no_loss=None, spans=None)] * 10}
    plan = plan_mixture([ComponentSpec(name="code", sequences=40, weight=None, epochs=1.0),
                         ComponentSpec(name="pairs", sequences=10, weight=None, epochs=1.0)])
    sampler = MixtureSampler(plan, 0)
    loader = MixtureLoader(sampler, components, global_batch_size=4, rank=0, world_size=1,
                           objectives={"code": "t5_span", "pairs": "bimodal"},
                           encoder_decoder=True)
    paired = 0
    for step in range(12):
        batch = loader.batch(step)
        names = [sampler.sample(i)[0] for i in range(step * 4, step * 4 + 4)]
        assert batch.inputs.shape[1] == seq2seq_lengths(["bimodal", "t5_span"], 23,
                                                        CODEMIX)[0]
        if batch.pairs is None:
            assert "pairs" not in names
            continue
        paired += 1
        assert batch.pairs[:, 0].tolist() == [r for r, n in enumerate(names) if n == "pairs"]
        texts, codes = pair_sides(batch.joined.numpy(), batch.pairs.numpy())
        for text, code in zip(texts, codes):
            assert CODES[TEXTS.index(text.tolist())] == code.tolist()
    assert paired
    for objectives, architecture in (({"code": "clm", "pairs": "bimodal"}, True),
                                     ({"code": "t5_span", "pairs": "bimodal"}, False)):
        with pytest.raises(ValueError, match="objective '(clm|t5_span)' does not train"):
            MixtureLoader(sampler, components, global_batch_size=4, rank=0, world_size=1,
                          objectives=objectives, encoder_decoder=architecture)


def test_contrastive_rows_are_each_side_and_an_eot_for_the_encoder():
    rows = side_rows([np.array([10, 11]), np.array([12]), np.array([20, 21, 22])], CODEMIX,
                     encoder=True)
    assert rows.tokens is None
    assert rows.encoder_tokens.tolist() == [[10, 11, EOT, EOT], [12, EOT, EOT, EOT],
                                            [20, 21, 22, EOT]]
    assert rows.encoder_lengths.tolist() == [3, 2, 4]
    assert rows.at.tolist() == [[0, 2], [1, 1], [2, 3]]


def test_matching_rows_are_one_couple_each_true_pairs_first():
    texts, codes = [np.array(t) for t in TEXTS[:2]], [np.array(c) for c in CODES[:2]]
    rows, labels, pair_of = seq2seq_matching_rows(texts, codes, [codes[1], codes[0]], CODEMIX)
    assert rows.encoder_tokens.tolist() == [[10, 11, EOT], [12, EOT, EOT], [10, 11, EOT],
                                            [12, EOT, EOT]]
    assert rows.encoder_lengths.tolist() == [3, 2, 3, 2]
    assert rows.tokens.tolist() == [[EOT, 20, 21, 22, EOT], [EOT, 23, 24, EOT, EOT],
                                    [EOT, 23, 24, EOT, EOT], [EOT, 20, 21, 22, EOT]]
    assert rows.at.tolist() == [[0, 4], [1, 3], [2, 3], [3, 4]]
    assert labels.tolist() == [1, 1, 0, 0] and pair_of.tolist() == [0, 1, 0, 1]


TINY = ModelArgs(vocab_size=64, dim=32, n_layers=2, n_heads=4, mlp_ratio=2.0,
                 max_seq_len=16, embedding_dim=8, encoder_layers=1)


@pytest.fixture
def model() -> Transformer:
    torch.manual_seed(0)
    return Transformer(TINY)


def _alone(model: Transformer, encoder_ids: list[int], decoder_ids: list[int] | None,
           head: str) -> torch.Tensor:
    """``head`` at the last position of one unpadded row, through the model's parts."""
    memory, _ = model._encode(torch.tensor([encoder_ids]), None)
    if decoder_ids is None:
        return model.heads[head](memory[0, -1])
    n = len(decoder_ids)
    h = model.tok_embeddings(torch.tensor([decoder_ids]))
    for block in model.layers.values():
        h = block(h, model.rope_cos[:n], model.rope_sin[:n], None, memory)
    return model.heads[head](model.norm(h)[0, -1])


def test_the_heads_read_each_row_as_if_alone(model):
    sides = [np.array(s) for s in (TEXTS + CODES)]
    with torch.no_grad():
        got = pooled(model, side_rows(sides, CODEMIX, encoder=True), "contrastive", CODEMIX,
                     torch.device("cpu"))
        for side, row in zip(sides, got):  # padding is hidden from the encoder
            torch.testing.assert_close(row, _alone(model, [*side, EOT], None, "contrastive"))
        texts, codes = sides[:3], sides[3:]
        rows, _, _ = seq2seq_matching_rows(texts, codes, [codes[2], codes[0], codes[1]],
                                           CODEMIX)
        logits = pooled(model, rows, "matching", CODEMIX, torch.device("cpu"))
        for k, (i, code) in enumerate([*enumerate(codes), (0, codes[2]), (1, codes[0]),
                                       (2, codes[1])]):
            torch.testing.assert_close(logits[k], _alone(model, [*texts[i], EOT],
                                                         [EOT, *code, EOT], "matching"))
    with pytest.raises(ValueError, match="only the contrastive head reads an encoder alone"):
        model(None, encoder_tokens=torch.zeros(1, 1, dtype=torch.int64), head="matching",
              at=torch.zeros(1, 2, dtype=torch.int64))


def test_the_passes_losses_match_a_hand_computation(model, group):
    examples = [bimodal_seq2seq(WINDOW, seed=3, index=i) for i in range(12)]
    firsts = {}
    for ex in examples:  # one example of each pair, in the order first met
        firsts.setdefault(tuple(np.r_[ex.inputs, ex.targets][ex.pairs[0, 0]:ex.pairs[0, 1]]),
                          ex)
    examples = list(firsts.values())
    assert len(examples) == 3
    batch = collate_seq2seq(examples, [0, 0, 0], lengths=(5, 5), start=EOT, paired=True)
    texts, codes = pair_sides(batch.joined.numpy(), batch.pairs.numpy())
    cfg = ObjectivesConfig(bimodal_contrastive=0.5, bimodal_matching=2.0,
                           contrastive_temperature=0.1, bimodal_embedding_dim=8)
    passes = BimodalLoss.for_run(cfg, ("bimodal",), CODEMIX, encoder_decoder=True)
    losses = GroupLosses(("loss/bimodal_generation", "loss/contrastive", "loss/matching",
                          "accuracy/matching"), torch.device("cpu"))
    total = passes.accumulate(model, batch, step_pairs=torch.tensor(3.0), losses=losses,
                              device=torch.device("cpu"))
    with torch.no_grad():
        text = F.normalize(torch.stack([_alone(model, [*t, EOT], None, "contrastive")
                                        for t in texts]), dim=-1)
        code = F.normalize(torch.stack([_alone(model, [*c, EOT], None, "contrastive")
                                        for c in codes]), dim=-1)
        scores = text @ code.T / 0.1
        eye = torch.eye(3, dtype=torch.bool)
        contrastive = -(scores.log_softmax(1)[eye] + scores.log_softmax(0)[eye]) / 2
        negative = scores.masked_fill(eye, -torch.inf).argmax(1)
        couples = [(i, codes[i], 1.0) for i in range(3)] + [
            (i, codes[int(negative[i])], 0.0) for i in range(3)]
        logits = torch.stack([_alone(model, [*texts[i], EOT], [EOT, *c, EOT], "matching")
                              for i, c, _ in couples]).squeeze(-1)
        labels = torch.tensor([y for _, _, y in couples])
        bce = -(labels * F.logsigmoid(logits) + (1 - labels) * F.logsigmoid(-logits))
        matching = (bce[:3] + bce[3:]) / 2
    assert negative.tolist() != [0, 1, 2]
    expected = 0.5 * contrastive.mean() + 2.0 * matching.mean()
    torch.testing.assert_close(total, expected)
    means = losses.means()
    assert means["loss/contrastive"] == pytest.approx(contrastive.mean().item(), rel=1e-5)
    assert means["loss/matching"] == pytest.approx(matching.mean().item(), rel=1e-5)
    right = ((logits > 0).float() == labels).float().mean().item()
    assert means["accuracy/matching"] == pytest.approx(right)
    # Both passes reach the encoder; the matching pass the decoder's cross-attention too.
    assert model.encoder.layers["0"].attn.wqkv.weight.grad.abs().sum() > 0
    assert model.layers["1"].cross_attn.wq.weight.grad.abs().sum() > 0
    assert model.heads.contrastive.weight.grad.abs().sum() > 0


def test_a_rank_without_pairs_runs_stand_ins_through_the_same_heads(model):
    passes = BimodalLoss.for_run(ObjectivesConfig(bimodal_embedding_dim=8), ("bimodal",),
                                 CODEMIX, encoder_decoder=True)
    for head in ("contrastive", "matching"):
        zero = passes._stand_in(model, head, torch.device("cpu"))
        assert zero.item() == 0.0 and zero.requires_grad
