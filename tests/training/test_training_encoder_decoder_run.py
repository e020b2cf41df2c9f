"""Training an encoder-decoder: batches of ``t5_span`` / ``seq2seq_lm`` examples, the
config's refusals, and a real run on the stdlib corpus whose loss falls."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from corpus_builder import read_metrics, run_codemix, write_train_config

from tokenizer.encode import decode
from training.config import ConfigError, load_config
from training.data.loader import collate_seq2seq
from training.generate import (continuation, document_prompt, generate, infill_prompt,
                               infilling, load_model, run_config)
from training.objectives import IGNORE_INDEX, Seq2SeqExample
from training.train import main

ENCODER_DECODER = {"architecture": "encoder_decoder", "encoder_layers": 1}
OBJECTIVES = {"objective": "t5_span", "objective_per_component": {"text-docs": "seq2seq_lm"}}


def test_a_batch_pads_the_encoder_and_shifts_the_decoder():
    examples = [Seq2SeqExample(inputs=np.array([11, 12, 13]), targets=np.array([21, 22])),
                Seq2SeqExample(inputs=np.array([14]), targets=np.array([23, 24, 25]),
                               no_loss=np.array([False, True, False]))]
    batch = collate_seq2seq(examples, [1, 0], lengths=(4, 4), start=0)
    assert batch.inputs.tolist() == [[11, 12, 13, 0], [14, 0, 0, 0]]
    assert batch.encoder_lengths.tolist() == [3, 1]
    assert batch.decoder_inputs.tolist() == [[0, 21, 0, 0], [0, 23, 24, 0]]
    x = IGNORE_INDEX
    assert batch.targets.tolist() == [[21, 22, x, x], [23, x, 25, x]]
    assert batch.group.tolist() == [1, 0] and batch.prefix is None and batch.pairs is None


def test_objectives_must_suit_the_architecture(tiny_manifest, tmp_path):
    decoder = write_train_config(tmp_path / "d.yaml", tiny_manifest, tmp_path / "out")
    with pytest.raises(ConfigError, match=r"^.*d.yaml: training.objective 't5_span' needs "
                                          r"model.architecture: encoder_decoder$"):
        load_config(decoder, ["training.objective=t5_span"])
    both = write_train_config(tmp_path / "e.yaml", tiny_manifest, tmp_path / "out",
                              model=ENCODER_DECODER)
    with pytest.raises(ConfigError, match=r"training.objective 'clm' trains a decoder-only "
                                          r"model; model.architecture encoder_decoder trains "
                                          r"with bimodal, seq2seq_lm, t5_span$"):
        load_config(both)
    with pytest.raises(ConfigError, match=r"training.objective_per_component.text-docs "
                                          r"'fim' trains a decoder-only model"):
        load_config(both, ["training.objective=t5_span",
                           "training.objective_per_component={text-docs: fim}"])
    with pytest.raises(ConfigError, match=r"training.document_mask applies to decoder-only "
                                          r"models"):
        load_config(both, ["training.objective=t5_span", "training.document_mask=true"])
    cfg = load_config(both, ["training.objective=seq2seq_lm"])
    assert cfg.model.encoder_decoder and cfg.embedding_dim == 0


def _losses(manifest: str, out, **training) -> list[dict]:
    cfg = write_train_config(out.with_suffix(".yaml"), manifest, out, model=ENCODER_DECODER,
                             training={**OBJECTIVES, "eval_sequences": 4, **training})
    assert main([cfg]) == 0
    return read_metrics(out)


@pytest.fixture(scope="module")
def reference(tiny_manifest, tmp_path_factory):
    """30 steps of t5_span on code and seq2seq_lm on docstrings, 1 process."""
    return _losses(tiny_manifest, tmp_path_factory.mktemp("ed") / "ref")


def test_an_encoder_decoder_learns_both_objectives(reference):
    first, last = reference[0], reference[-1]
    assert [m["step"] for m in reference] == [1, 5, 10, 15, 20, 25, 30]
    # From about ln(512) = 6.2 (uniform over the vocabulary), measured: t5_span 6.26 ->
    # 4.67, seq2seq_lm 6.26 -> 5.4 to 5.7 (its batches' share of text varies by step).
    assert last["loss/t5_span"] < first["loss/t5_span"] - 1.0
    assert last["loss/seq2seq_lm"] < first["loss/seq2seq_lm"] - 0.3
    # Held-out evaluation is seq2seq_lm's loss on every component.
    assert {"eval/code-python", "eval/text-docs"} <= last.keys()
    assert all(np.isfinite(last[k]) for k in ("eval/code-python", "eval/text-docs"))


def test_checkpointing_every_block_and_eager_init_keep_the_losses(reference, tiny_manifest,
                                                                   tmp_path):
    got = _losses(tiny_manifest, tmp_path / "ac", activation_checkpointing="full",
                  meta_init=False)
    assert [m["loss"] for m in got] == pytest.approx([m["loss"] for m in reference],
                                                     rel=1e-5)


@pytest.fixture(scope="module")
def short(tiny_manifest, tmp_path_factory) -> str:
    """The checkpoint of a 4-step encoder-decoder run."""
    out = tmp_path_factory.mktemp("short") / "out"
    _losses(tiny_manifest, out, steps=4, log_every=2)
    return str(out / "checkpoints" / "step-000004")


def test_the_checkpoint_holds_both_stacks(short):
    model = load_model(short, run_config(short), torch.device("cpu"))[0]
    assert model.encoder is not None and len(model.encoder.layers) == 1
    assert model.layers["1"].cross_attn.wq.weight.shape == (64, 64)


def test_generation_encodes_the_prompt_and_decodes_from_the_start_id(short):
    model, tok, specials = load_model(short, run_config(short), torch.device("cpu"))
    prompt = document_prompt(tok, "def add(a, b):\n    return", specials)
    new = generate(model, prompt, max_new_tokens=6, decoder_ids=[specials.eot])
    assert len(new) == 6 or new[-1] == specials.eot
    # Greedy: each new id is the argmax of the decoder, fed the start id and the ids so
    # far, over the encoder's reading of the whole prompt.
    source = torch.tensor([prompt])
    for k, token in enumerate(new):
        decoded = torch.tensor([[specials.eot, *new[:k]]])
        with torch.no_grad():
            logits = model(decoded, encoder_tokens=source)[0, -1]
        assert int(logits.argmax()) == token, k
    with pytest.raises(ValueError, match="an encoder-decoder needs decoder_ids"):
        generate(model, prompt, max_new_tokens=1)


def test_codemix_generate_runs_an_encoder_decoder_checkpoint(short, capsys):
    model, tok, specials = load_model(short, run_config(short), torch.device("cpu"))
    new = generate(model, document_prompt(tok, "import os\n", specials), max_new_tokens=5,
                   decoder_ids=[specials.eot], stop_ids={specials.eot})
    capsys.readouterr()
    status, out, err = run_codemix(capsys, "generate", short, "--prompt", "import os\n",
                                   "--max-new-tokens", "5")
    assert status == 0, err
    assert out == decode(tok, [t for t in new if t != specials.eot]) + "\n"


def test_requests_of_both_architectures(short, trained_checkpoint):
    encoder_decoder, tok, specials = load_model(short, run_config(short), torch.device("cpu"))
    decoder = load_model(trained_checkpoint[1], run_config(trained_checkpoint[1]),
                         torch.device("cpu"))[0]
    eot, mask_1, mask_2 = specials.eot, specials.masks[0], specials.masks[1]
    text, prefix, suffix = "x = 1", "def f(x):\n    return ", "\n"
    assert continuation(decoder, tok, text, specials) == (
        document_prompt(tok, text, specials), [], {eot})
    assert continuation(encoder_decoder, tok, text, specials) == (
        document_prompt(tok, text, specials), [eot], {eot})
    assert infilling(decoder, tok, prefix, suffix, specials) == (
        infill_prompt(tok, prefix, suffix, specials), [], {specials.eom})
    # T5's layout with one span: the encoder reads it, the decoder starts at the sentinel.
    before, after = document_prompt(tok, prefix, specials), document_prompt(tok, suffix,
                                                                            specials)[1:]
    assert infilling(encoder_decoder, tok, prefix, suffix, specials) == (
        [*before, mask_1, *after], [eot, mask_1], {eot, mask_2})


def test_codemix_infill_runs_an_encoder_decoder_checkpoint(short, capsys):
    model, tok, specials = load_model(short, run_config(short), torch.device("cpu"))
    request = infilling(model, tok, "def f(x):\n    return ", "\n", specials)
    new = generate(model, request.ids, max_new_tokens=4, stop_ids=request.stop_ids,
                   decoder_ids=request.decoder_ids)
    capsys.readouterr()
    status, out, err = run_codemix(capsys, "infill", short, "--prefix", "def f(x):\n    return ",
                                   "--suffix", "\n", "--max-new-tokens", "4")
    assert status == 0, err
    assert out == decode(tok, [t for t in new if t not in request.stop_ids]) + "\n"
