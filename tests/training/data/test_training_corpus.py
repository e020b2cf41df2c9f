"""training.data.corpus: a manifest is opened only if it matches its files and tokens."""

import json
from pathlib import Path

import pytest

from shards import ManifestError
from training.data.corpus import open_corpus

TEXTS = {"code-python": ["def f(x):\n    return x + 1\n"] * 40,
         "text-docs": ["Return the value plus one."] * 40}


def test_opens_a_built_corpus(make_manifest):
    corpus = open_corpus(make_manifest(TEXTS, vocab_size=300))
    assert corpus.names == ("code-python", "text-docs")
    assert len(corpus.packed(8)["code-python"]) > 0
    assert len(corpus.sha256) == 64


def test_missing_manifest_is_one_line(tmp_path):
    with pytest.raises(ManifestError, match=f"^no manifest at {tmp_path}/manifest.json$"):
        open_corpus(str(tmp_path / "manifest.json"))


def test_changed_tokenizer_is_refused(make_manifest):
    path = make_manifest(TEXTS, vocab_size=300)
    tok = Path(path).parent / "tokenizer.json"
    tok.write_text(tok.read_text() + " ")
    with pytest.raises(ManifestError, match="tokenizer tokenizer.json: sha256 mismatch"):
        open_corpus(path)


def test_foreign_special_token_ids_are_refused(make_manifest):
    path = Path(make_manifest(TEXTS, vocab_size=300))
    data = json.loads(path.read_text())
    special = data["tokenizer"]["special_tokens"]
    special["<|endoftext|>"], special["<|pad|>"] = 1, 0
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="codemix expects"):
        open_corpus(str(path))


def test_impossible_mixture_is_a_manifest_error(make_manifest):
    path = Path(make_manifest(TEXTS, vocab_size=300,
                              mixing={"text-docs": {"weight": 1.5}}))
    corpus = open_corpus(str(path))
    with pytest.raises(ManifestError, match="must sum to < 1"):
        corpus.mixture(corpus.packed(8))
