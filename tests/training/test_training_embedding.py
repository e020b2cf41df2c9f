"""``codemix embed``: retrieval embeddings of an encoder-decoder's encoder, or of a decoder
trained with the contrastive head, on tiny trained checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from corpus_builder import assert_one_error_line, run_codemix, write_train_config

from tokenizer.encode import encode_batch
from training.attention import attention_mask
from training.bimodal import contrastive_rows
from training.embedding import embed
from training.generate import load_model, run_config
from training.train import main

TEXTS = ["Return the sum of a and b.", "def add(a, b):\n    return a + b",
         "Open the file and read every line of it into a list of strings."]
DIM = 16


def _checkpoint(manifest: str, root, **model) -> str:
    """A 2-step run with the bimodal heads (``text-docs`` trains with ``bimodal``)."""
    objective = "t5_span" if model else "clm"
    cfg = write_train_config(root / "train.yaml", manifest, root / "out", model=model,
                             objectives={"bimodal_embedding_dim": DIM},
                             training={"steps": 2, "log_every": 1, "objective": objective,
                                       "objective_per_component": {"text-docs": "bimodal"}})
    assert main([cfg]) == 0
    return str(root / "out" / "checkpoints" / "step-000002")


@pytest.fixture(scope="module", params=["encoder_decoder", "decoder"])
def checkpoint(request, tiny_manifest, tmp_path_factory) -> str:
    model = {"architecture": "encoder_decoder", "encoder_layers": 1}
    return _checkpoint(tiny_manifest, tmp_path_factory.mktemp(request.param),
                       **(model if request.param == "encoder_decoder" else {}))


def _load(checkpoint: str):
    return load_model(checkpoint, run_config(checkpoint), torch.device("cpu"))


def test_embeddings_have_unit_norm_and_the_head_s_width(checkpoint):
    model, tok, specials = _load(checkpoint)
    vectors = embed(model, tok, specials, TEXTS)
    assert vectors.shape == (3, DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])
    assert embed(model, tok, specials, []).shape == (0, DIM)


def test_a_text_embeds_the_same_alone_and_in_a_batch(checkpoint):
    model, tok, specials = _load(checkpoint)
    together = embed(model, tok, specials, TEXTS)  # padded to the longest
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(embed(model, tok, specials, [text])[0], together[i],
                                   atol=1e-5)
    np.testing.assert_allclose(embed(model, tok, specials, TEXTS, batch_size=2), together,
                               atol=1e-5)


def test_the_embedding_is_what_the_contrastive_loss_pools(checkpoint):
    model, tok, specials = _load(checkpoint)
    text, code = (ids.tolist() for ids in encode_batch(tok, TEXTS[:2]))
    got = torch.from_numpy(embed(model, tok, specials, TEXTS[:2]))
    with torch.no_grad():
        if model.encoder is not None:
            # The encoder's final state at the EOT after each side, read alone.
            expected = torch.stack([
                model.heads.contrastive(model._encode(torch.tensor([[*ids, specials.eot]]),
                                                      None)[0][0, -1])
                for ids in (text, code)])
        else:
            # The decoder-only pass: the pair inside a packed window, its <sep> an EOT.
            window = np.array([[7, specials.eot, *text, specials.sep, *code, specials.eot, 9]])
            end = 2 + len(text)
            pairs = np.array([[0, 2, end, end + 1, end + 1 + len(code)]])
            rows = contrastive_rows(window, pairs, specials)
            mask = attention_mask(rows.tokens, prefix=None, document_mask=True,
                                  specials=specials)
            expected = model(rows.tokens, mask, head="contrastive", at=rows.at)
    torch.testing.assert_close(got, F.normalize(expected, dim=-1), atol=1e-5, rtol=1e-4)


def test_codemix_embed_writes_npy_and_json_lines(checkpoint, tmp_path, capsys):
    model, tok, specials = _load(checkpoint)
    expected = embed(model, tok, specials, TEXTS)
    source = tmp_path / "texts.jsonl"
    source.write_text("".join(json.dumps({"text": t, "id": i}) + "\n"
                              for i, t in enumerate(TEXTS)) + "\n", encoding="utf-8")
    status, out, err = run_codemix(capsys, "embed", checkpoint, "--input", str(source),
                                   "--out", str(tmp_path / "e.npy"))
    assert (status, out) == (0, ""), err
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), expected, atol=1e-6)
    status, out, err = run_codemix(capsys, "embed", checkpoint, "--input", str(source))
    assert status == 0, err
    lines = [json.loads(line)["embedding"] for line in out.splitlines()]
    np.testing.assert_allclose(np.array(lines, dtype=np.float32), expected, atol=1e-6)


def test_user_errors_are_one_line(checkpoint, trained_checkpoint, tmp_path, capsys):
    source = tmp_path / "texts.jsonl"
    source.write_text('{"text": "a"}\n["not", "an object"]\n', encoding="utf-8")
    status, _, err = run_codemix(capsys, "embed", checkpoint, "--input", str(source))
    assert status == 2
    assert_one_error_line(err, 'texts.jsonl:2: expected an object with a "text" string')
    status, _, err = run_codemix(capsys, "embed", checkpoint, "--input",
                                 str(tmp_path / "missing.jsonl"))
    assert status == 2
    assert_one_error_line(err, "cannot read --input")
    source.write_text('{"text": "a"}\n', encoding="utf-8")
    status, _, err = run_codemix(capsys, "embed", trained_checkpoint[1], "--input",
                                 str(source))
    assert status == 2
    assert_one_error_line(err, "this checkpoint has no contrastive head")
    status, _, err = run_codemix(capsys, "embed", str(tmp_path / "nowhere"), "--input",
                                 str(source))
    assert status == 2
    assert_one_error_line(err, "nowhere")
    status, _, err = run_codemix(capsys, "embed", checkpoint, "--input", str(source),
                                 "--out", str(tmp_path / "no" / "dir" / "e.npy"))
    assert status == 2
    assert_one_error_line(err, "cannot write --out")
