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


def edit_special_tokens(path: str, edit) -> str:
    """Rewrite the manifest at ``path`` after ``edit(special_tokens)``; returns the path."""
    data = json.loads(Path(path).read_text())
    edit(data["tokenizer"]["special_tokens"])
    Path(path).write_text(json.dumps(data))
    return path


def test_special_ids_are_the_manifests_wherever_they_are(make_manifest):
    def swap(special):
        special["<|endoftext|>"], special["<|pad|>"] = 1, 0

    corpus = open_corpus(edit_special_tokens(make_manifest(TEXTS, vocab_size=300), swap))
    assert (corpus.specials.eot, corpus.specials.pad) == (1, 0)
    assert all(p.eot_id == 1 for p in corpus.packed(8).values())


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("<|endoftext|>"), "tokenizer has no <|endoftext|> token$"),
    (lambda s: s.update({"<sep>": 10**6}), r"special token <sep> has id 1000000, outside "
                                           r"the vocabulary of \d+$"),
    (lambda s: s.update({"<sep>": 3}), "special tokens <eom> and <sep> share id 3$"),
])
def test_impossible_special_ids_are_refused_in_one_line(make_manifest, edit, message):
    path = edit_special_tokens(make_manifest(TEXTS, vocab_size=300), edit)
    with pytest.raises(ManifestError, match=message):
        open_corpus(path)


def test_objectives_refuse_a_tokenizer_lacking_their_tokens(make_manifest):
    def gpt2_like(special):
        for token in list(special):
            if token not in ("<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>",
                             "<fim_pad>"):
                del special[token]

    corpus = open_corpus(edit_special_tokens(make_manifest(TEXTS, vocab_size=300), gpt2_like))
    assert corpus.specials_for(["clm", "fim", "prefix_lm"]) == corpus.specials
    with pytest.raises(ManifestError, match=r"the tokenizer lacks the special tokens <sep>, "
                       r"<eom>, <mask_1>\.\.<mask_32>, which training with clm and codegen2 "
                       r"needs \(build the corpus with tokenizer.add_missing_special_tokens"):
        corpus.specials_for(["clm", "codegen2"])


def test_impossible_mixture_is_a_manifest_error(make_manifest):
    path = Path(make_manifest(TEXTS, vocab_size=300,
                              mixing={"text-docs": {"weight": 1.5}}))
    corpus = open_corpus(str(path))
    with pytest.raises(ManifestError, match="must sum to < 1"):
        corpus.mixture(corpus.packed(8))
