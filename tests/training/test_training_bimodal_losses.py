"""training.bimodal and the model's heads: InfoNCE, hard negatives, matching, pooled rows."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tokenizer.special_tokens import SpecialIds
from training.attention import attention_mask
from training.bimodal import (BimodalLoss, contrastive_rows, hard_negatives, info_nce,
                              matching_loss, matching_rows, metric_names, pair_sides)
from training.config import ConfigError, ObjectivesConfig, TrainConfig, load_config
from training.data.loader import MixtureLoader, collate
from training.data.sampler import ComponentSpec, MixtureSampler, plan_mixture
from training.model import ModelArgs, Transformer
from training.objectives import transform

CODEMIX = SpecialIds.default()
EOT, SEP = CODEMIX.eot, CODEMIX.sep


def test_info_nce_matches_a_hand_computation():
    text = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    code = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    losses, scores = info_nce(text, code, temperature=0.5)
    # Normalised: text (1, 0), (r, r); code (1, 0), (0, 1), r = 1/sqrt(2); scores = cos / 0.5.
    r = 1 / math.sqrt(2)
    s = [[2.0, 0.0], [2 * r, 2 * r]]
    torch.testing.assert_close(scores, torch.tensor(s))

    def ce(logits, target):
        return -logits[target] + math.log(sum(math.exp(x) for x in logits))

    rows = [ce(s[0], 0), ce(s[1], 1)]
    columns = [ce([s[0][0], s[1][0]], 0), ce([s[0][1], s[1][1]], 1)]
    expected = [(rows[i] + columns[i]) / 2 for i in range(2)]
    torch.testing.assert_close(losses, torch.tensor(expected))


def test_info_nce_of_one_pair_is_zero_and_perfect_pairs_score_low():
    losses, _ = info_nce(torch.randn(1, 8), torch.randn(1, 8), temperature=0.07)
    assert losses.item() == pytest.approx(0.0, abs=1e-6)
    eye = torch.eye(4)
    assert info_nce(eye, eye, 0.05)[0].max() < 1e-6 < info_nce(eye, eye.roll(1, 0), 0.05)[0].min()


def test_hard_negatives_are_the_argmax_off_the_diagonal():
    scores = torch.tensor([[9.0, 1.0, 3.0],
                           [4.0, 9.0, 2.0],
                           [0.5, 7.0, 9.0]], requires_grad=True)
    assert hard_negatives(scores).tolist() == [2, 0, 1]
    # Never the diagonal, even where it is not the row's maximum; ties: the lower index.
    scores = torch.tensor([[0.0, 5.0, 5.0], [5.0, 9.0, 1.0], [3.0, 3.0, 9.0]])
    assert hard_negatives(scores).tolist() == [1, 0, 0]


def test_matching_loss_matches_a_hand_computation():
    logits = torch.tensor([2.0, -1.0, 0.5])
    labels = torch.tensor([1.0, 1.0, 0.0])
    pair_of = torch.tensor([0, 1, 0])
    got = matching_loss(logits, labels, pair_of, pairs=2)

    def bce(x, y):
        p = 1 / (1 + math.exp(-x))
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))

    expected = [(bce(2.0, 1) + bce(0.5, 0)) / 2, bce(-1.0, 1)]
    torch.testing.assert_close(got, torch.tensor(expected))


# Two rows of bimodal inputs: row 0 holds a text->code pair then a code->text pair, row 1
# holds no pair. Pairs as ``Batch.pairs``: (row, text_start, text_end, code_start, code_end).
INPUTS = np.array([[50, EOT, 10, 11, SEP, 20, 21, 22, EOT, 23, SEP, 12, EOT, 60],
                   [70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83]])
PAIRS = np.array([[0, 2, 4, 5, 8], [0, 11, 12, 9, 10]])


def test_contrastive_rows_turn_each_sep_into_an_eot_and_pool_each_side_at_its_eot():
    rows = contrastive_rows(INPUTS, PAIRS, CODEMIX)
    assert rows.tokens.tolist() == [[50, EOT, 10, 11, EOT, 20, 21, 22, EOT, 23, EOT, 12, EOT,
                                     60]]
    # Texts first (10 11, then 12), then codes (20 21 22, then 23): each at its side's EOT.
    assert rows.at.tolist() == [[0, 4], [0, 12], [0, 8], [0, 10]]


def _matching(inputs: np.ndarray, pairs: np.ndarray, negatives: list[int]):
    """``matching_rows`` of ``pairs`` with each docstring's negative code by index."""
    texts, codes = pair_sides(inputs, pairs)
    return matching_rows(texts, codes, [codes[j] for j in negatives], inputs.shape[1],
                         CODEMIX)


def test_matching_rows_pack_true_pairs_then_negatives_and_cut_long_codes():
    rows, labels, pair_of = _matching(INPUTS, PAIRS, [1, 0])
    pieces = [[10, 11, SEP, 20, 21, 22, EOT], [12, SEP, 23, EOT],
              [10, 11, SEP, 23, EOT], [12, SEP, 20, 21, 22, EOT]]
    flat = [t for piece in pieces for t in piece]  # 22 tokens: rows of 14 take 11 and 11
    assert rows.tokens.tolist() == [flat[:11], flat[11:]]
    assert rows.at.tolist() == [[0, 6], [0, 10], [1, 4], [1, 10]]
    assert labels.tolist() == [1, 1, 0, 0] and pair_of.tolist() == [0, 1, 0, 1]
    # A lone pair has no negative.
    rows, labels, _ = _matching(INPUTS, PAIRS[:1], [])
    assert rows.tokens.tolist() == [[10, 11, SEP, 20, 21, 22, EOT]] and labels.tolist() == [1]


def test_a_negative_longer_than_a_row_has_its_code_cut():
    # Pair 0: a 1-token text and a 10-token code; pair 1: the other way round. Both fit
    # their 14-token rows, but text 1 with code 0 would take 22 tokens.
    inputs = np.array([[1, SEP, *range(20, 30), EOT, 0], [*range(40, 50), SEP, 2, EOT, 0]])
    pairs = np.array([[0, 0, 1, 2, 12], [1, 0, 10, 11, 12]])
    rows, labels, _ = _matching(inputs, pairs, [1, 0])
    assert rows.tokens.shape[1] <= 14
    assert rows.tokens[rows.at[-1, 0]].tolist() == [*range(40, 50), SEP, 20, 21, EOT]
    assert labels.tolist() == [1, 1, 0, 0]


HEADED = ModelArgs(vocab_size=100, dim=32, n_layers=2, n_heads=4, mlp_ratio=2.0,
                   max_seq_len=16, embedding_dim=8)


def test_heads_are_extra_parameters_drawn_after_all_others():
    plain = Transformer(ModelArgs(**{**HEADED.__dict__, "embedding_dim": 0}))
    headed = Transformer(HEADED)
    plain.init_weights(seed=3)
    headed.init_weights(seed=3)
    extra = set(headed.state_dict()) - set(plain.state_dict())
    assert extra == {"heads.contrastive.weight", "heads.matching.weight"}
    for name, tensor in plain.state_dict().items():
        torch.testing.assert_close(headed.state_dict()[name], tensor)
    assert headed.heads.contrastive.weight.shape == (8, 32)
    assert headed.heads.matching.weight.shape == (1, 32)


def test_a_head_reads_the_final_states_at_the_given_positions():
    torch.manual_seed(0)
    model = Transformer(HEADED).eval()
    tokens = torch.from_numpy(INPUTS[:, :12])
    at = torch.tensor([[0, 4], [1, 7], [0, 11]])
    with torch.no_grad():
        pooled = model(tokens, head="contrastive", at=at)
        logits = model(tokens, head="matching", at=at)
        h = model.tok_embeddings(tokens)
        for block in model.layers.values():
            h = block(h, model.rope_cos[:12], model.rope_sin[:12])
        states = model.norm(h)[at[:, 0], at[:, 1]]
    assert pooled.shape == (3, 8) and logits.shape == (3, 1)
    torch.testing.assert_close(pooled, model.heads.contrastive(states))
    torch.testing.assert_close(logits, model.heads.matching(states))


def test_each_side_is_encoded_on_its_own():
    torch.manual_seed(0)
    model = Transformer(HEADED).eval()
    rows = contrastive_rows(INPUTS, PAIRS, CODEMIX)
    changed = rows.tokens.clone()
    changed[0, 5:8] = torch.tensor([30, 31, 32])  # the first pair's code
    with torch.no_grad():
        a, b = (model(t, attention_mask(t, prefix=None, document_mask=True), head="contrastive",
                      at=rows.at) for t in (rows.tokens, changed))
    torch.testing.assert_close(a[[0, 1, 3]], b[[0, 1, 3]])  # both texts, the other code
    assert not torch.allclose(a[2], b[2])


def test_metric_names_log_the_bimodal_losses_after_the_objectives():
    assert metric_names(("clm", "prefix_lm")) == ("loss/clm", "loss/prefix_lm")
    assert metric_names(("bimodal", "clm")) == (
        "loss/bimodal_generation", "loss/clm", "loss/contrastive", "loss/matching",
        "accuracy/matching")


def test_the_generation_weight_scales_the_bimodal_rows_only():
    objectives = ("bimodal", "clm")
    assert BimodalLoss.for_run(ObjectivesConfig(), ("clm",), CODEMIX) is None
    loss = BimodalLoss.for_run(ObjectivesConfig(bimodal_generation=0.5), objectives, CODEMIX)
    assert (loss.group, loss.first) == (0, 2)
    weighted = loss.weigh(torch.tensor([2.0, 4.0, 6.0]), torch.tensor([1, 0, 1]))
    assert weighted.tolist() == [2.0, 2.0, 6.0]
    plain = torch.tensor([2.0, 4.0])
    assert BimodalLoss.for_run(ObjectivesConfig(), objectives, CODEMIX).weigh(
        plain, torch.tensor([0, 1])) is plain


def test_bimodal_settings_load_and_size_the_heads(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("data: {manifest: m.json}\ntraining:\n"
                    "  objective_per_component: {pairs: bimodal}\n"
                    "objectives: {bimodal_contrastive: 0.5, contrastive_temperature: 0.1,"
                    " bimodal_embedding_dim: 64}\n")
    cfg = load_config(str(path))
    assert (cfg.objectives.bimodal_contrastive, cfg.objectives.contrastive_temperature) == (
        0.5, 0.1)
    assert cfg.embedding_dim == 64
    assert load_config(str(path), ["training.objective_per_component={}"]).embedding_dim == 0
    assert TrainConfig(data=cfg.data).embedding_dim == 0
    args = ModelArgs.from_config(cfg.model, vocab_size=10, seq_len=8,
                                 embedding_dim=cfg.embedding_dim)
    assert args.embedding_dim == 64


@pytest.mark.parametrize("field, value, message", [
    ("bimodal_matching", -1.0, "objectives.bimodal_matching must be non-negative, got -1.0"),
    ("contrastive_temperature", 0.0, "contrastive_temperature must be positive, got 0.0"),
    ("bimodal_embedding_dim", 0, "bimodal_embedding_dim must be positive, got 0"),
    ("bimodal_text_to_code_rate", 2.0, "bimodal_text_to_code_rate must be in [0, 1], got 2.0"),
])
def test_bad_bimodal_settings_are_one_line(field, value, message):
    with pytest.raises(ConfigError) as err:
        ObjectivesConfig(**{field: value})
    assert str(err.value).endswith(message)


class _Component:
    """``count`` packed sequences, all the same window: enough for the loader."""

    def __init__(self, tokens: np.ndarray, count: int):
        self.tokens, self.count = tokens, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> SimpleNamespace:
        return SimpleNamespace(tokens=self.tokens, no_loss=None, spans=None)


def test_every_rank_of_a_paired_step_carries_pairs_and_no_other_does():
    window = np.r_[7, EOT, 10, 11, SEP, 20, 21, EOT, 12, SEP, 22, EOT, 30, 31]
    components = {"code": _Component(np.arange(100, 114), 50),
                  "pairs": _Component(window, 10)}
    plan = plan_mixture([ComponentSpec(name="code", sequences=50, weight=None, epochs=1.0),
                         ComponentSpec(name="pairs", sequences=10, weight=None, epochs=1.0)])
    sampler = MixtureSampler(plan, 0)

    def loader(rank: int, objective: str = "bimodal") -> MixtureLoader:
        return MixtureLoader(sampler, components, global_batch_size=4, rank=rank,
                             world_size=2, objectives={"code": "clm", "pairs": objective})

    flags = []
    for step in range(15):
        halves = [loader(r).batch(step) for r in range(2)]
        names = [sampler.sample(i)[0] for i in range(step * 4, step * 4 + 4)]
        paired = "pairs" in names
        flags.append([names[:2].count("pairs"), names[2:].count("pairs")])
        for rank, half in enumerate(halves):
            assert (half.pairs is not None) == paired
            if paired:  # the window's two pairs for each of this rank's pairs rows
                rows = [r for r, n in enumerate(names[2 * rank:2 * rank + 2]) if n == "pairs"]
                assert half.pairs[:, 0].tolist() == [r for r in rows for _ in range(2)]
        assert loader(0, "clm").batch(step).pairs is None
    # The window covers both cases: steps without pairs, and pairs on one rank only.
    assert [0, 0] in flags and any(sorted(f)[0] == 0 < sorted(f)[1] for f in flags)


def test_collate_gathers_each_rows_pairs():
    examples = [transform("bimodal", np.r_[7, EOT, 10, SEP, 20, EOT, 5], seed=0, index=i)
                for i in range(2)] + [transform("clm", np.arange(100, 107), seed=0, index=0)]
    batch = collate(examples, [0, 0, 1], paired=True)
    assert batch.pairs[:, 0].tolist() == [0, 1]
    assert collate(examples, [0, 0, 1]).pairs is None
    assert collate(examples[2:], [1], paired=True).pairs.shape == (0, 5)
