"""tokenizer.fast and encode_batch's fast path: identical ids, exact round trips, fallbacks."""

from __future__ import annotations

import json
import logging
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from tests.tokenizer.conftest import STDLIB
from tests.tokenizer.test_tokenizer_encode import HARD_TEXTS
from tokenizer import encode, fast
from tokenizer.encode import decode, encode_batch, fallback_reason
from tokenizer.special_tokens import SPECIAL_TOKENS


def hf_ids(tok: Tokenizer, texts: list[str]) -> list[list[int]]:
    """The reference: ``tokenizers`` with special-token strings as text."""
    tok.encode_special_tokens = True
    return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]


def edited(tok: Tokenizer, edit) -> Tokenizer:
    """A new tokenizer from ``tok``'s JSON after ``edit(dict)`` changed it in place."""
    data = json.loads(tok.to_str())
    edit(data)
    return Tokenizer.from_str(json.dumps(data))


@pytest.fixture(scope="module")
def stdlib_files() -> list[str]:
    """Every 7th standard-library module (sorted, tests included), whole, up to 300 files."""
    texts = []
    for path in sorted(STDLIB.rglob("*.py"))[::7]:
        try:
            texts.append(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            continue  # a few test files are deliberately not UTF-8
        if len(texts) == 300:
            break
    return texts


def test_byte_alphabet_is_tokenizers_byte_level_alphabet():
    alphabet = fast.byte_alphabet()
    assert sorted(alphabet) == sorted(pre_tokenizers.ByteLevel.alphabet())
    assert sorted(alphabet.values()) == list(range(256))
    assert alphabet["a"] == ord("a") and alphabet["Ġ"] == ord(" ") and alphabet["Ċ"] == ord("\n")


def test_conversion_gives_identical_ids_on_whole_stdlib_files(tok, stdlib_files):
    assert len(stdlib_files) == 300 and sum(map(len, stdlib_files)) > 2_000_000
    enc = fast.to_tiktoken(tok)
    assert [enc.encode_ordinary(t) for t in stdlib_files] == hf_ids(tok, stdlib_files)


def test_conversion_gives_identical_ids_on_adversarial_text(tok):
    enc = fast.to_tiktoken(tok)
    assert fast.first_difference(tok, enc, [*fast.ADVERSARIAL_TEXTS, *HARD_TEXTS]) is None


def test_conversion_keeps_ranks_and_recognises_no_special_tokens(tok):
    enc = fast.to_tiktoken(tok)
    assert enc.special_tokens_set == set()
    assert enc.max_token_value == tok.get_vocab_size() - 1
    assert enc.encode_single_token(b" return") == tok.token_to_id("Ġreturn")
    ids = enc.encode_ordinary("<|endoftext|>")
    assert len(ids) > 1 and min(ids) >= len(SPECIAL_TOKENS)


def test_fast_path_is_used_for_a_trained_tokenizer(tok):
    assert fallback_reason(tok) is None


def test_fast_path_round_trips_exactly(tok, stdlib_files):
    assert fallback_reason(tok) is None
    texts = [*stdlib_files[:100], *HARD_TEXTS, *fast.ADVERSARIAL_TEXTS]
    out = encode_batch(tok, texts)
    assert [a.dtype for a in out] == [np.uint32] * len(texts)
    assert [decode(tok, ids) for ids in out] == texts


def test_pickled_copy_reuses_the_checked_encoder(tok, monkeypatch):
    assert fallback_reason(tok) is None

    def never(_):
        raise AssertionError("converted again")

    monkeypatch.setattr(fast, "to_tiktoken", never)
    copy = pickle.loads(pickle.dumps(tok))
    assert fallback_reason(copy) is None
    assert encode_batch(copy, ["x = 1"])[0].tolist() == hf_ids(tok, ["x = 1"])[0]


def test_gpt2_style_byte_level_tokenizer_gets_the_fast_path(corpus):
    # A tokenizer brought by a user that splits with ByteLevel's own (GPT-2) regex.
    gpt2 = Tokenizer(models.BPE())
    gpt2.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    gpt2.decoder = decoders.ByteLevel()
    gpt2.train_from_iterator(corpus[:10], trainers.BpeTrainer(
        vocab_size=800, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    assert fallback_reason(gpt2) is None
    texts = [*corpus[10:15], *HARD_TEXTS]
    assert [a.tolist() for a in encode_batch(gpt2, texts)] == hf_ids(gpt2, texts)


def with_normalizer(tok):
    copy = Tokenizer.from_str(tok.to_str())
    copy.normalizer = normalizers.Lowercase()
    return copy


def with_plain_added_token(tok):
    copy = Tokenizer.from_str(tok.to_str())
    copy.add_tokens(["self"])
    return copy


def word_piece(tok):
    wp = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1, "##b": 2}, unk_token="[UNK]"))
    wp.pre_tokenizer = pre_tokenizers.Whitespace()
    return wp


def merges_out_of_id_order(tok):
    def swap_first_merges(data):
        merges = data["model"]["merges"]
        merges[0], merges[1] = merges[1], merges[0]

    return edited(tok, swap_first_merges)


def split_that_drops_text(tok):
    # Converts, but tiktoken skips text its regex does not match while tokenizers keeps it.
    def letters_only(data):
        data["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {"Regex": r"\p{L}+"}

    return edited(tok, letters_only)


def with_padding(tok):
    copy = Tokenizer.from_str(tok.to_str())
    copy.enable_padding(pad_id=1, pad_token="<|pad|>")
    return copy


def isolated_split_removed(tok):
    copy = Tokenizer.from_str(tok.to_str())
    copy.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\s+"), behavior="removed"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return copy


@pytest.mark.parametrize("make, reason", [
    (with_normalizer, r"^not convertible: has a normalizer \(Lowercase\)$"),
    (with_plain_added_token, r"^not convertible: added token 'self' is not special"),
    (word_piece, r"^not convertible: model is WordPiece, not BPE$"),
    (merges_out_of_id_order, r"^not convertible: merge 1 .* ids do not follow merge order$"),
    (with_padding, r"^not convertible: padding is set$"),
    (isolated_split_removed, r"^not convertible: Split pre-tokenizer behaviour is Removed"),
    (split_that_drops_text, r"^tiktoken differs from tokenizers on sample text \d+ "),
])
def test_unconvertible_tokenizer_falls_back_and_says_why(tok, make, reason, caplog):
    other = make(tok)
    texts = ["def f(x):\n    return self.x  # Some Text\n", *HARD_TEXTS[:5]]
    with caplog.at_level(logging.WARNING, logger=encode.__name__):
        assert re.search(reason, fallback_reason(other) or "")
        got = [a.tolist() for a in encode_batch(other, texts)]
        encode_batch(other, texts)
    assert got == hf_ids(other, texts)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and fallback_reason(other) in warnings[0]


def test_fallback_result_is_cached_by_content(tok, monkeypatch):
    first = with_normalizer(tok)
    reason = fallback_reason(first)
    monkeypatch.setattr(fast, "to_tiktoken", lambda _: pytest.fail("converted again"))
    assert fallback_reason(with_normalizer(tok)) == reason


def test_reference_texts_are_deterministic_and_bounded():
    texts = fast.reference_texts(100_000)
    assert texts == fast.reference_texts(100_000)
    size = sum(len(t.encode()) for t in texts)
    assert 100_000 <= size < 100_000 + 40_000
    assert fast.reference_texts(0) == []



def test_conversion_downloads_nothing(tok, monkeypatch):
    # Only OpenAI's named encodings are fetched (tiktoken.load); ours is built from our ranks.
    import tiktoken.load

    def offline(*_args, **_kwargs):
        raise AssertionError("tiktoken tried to fetch a file")

    monkeypatch.setattr(tiktoken.load, "read_file", offline)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", offline)
    enc = fast.to_tiktoken(tok)
    assert enc.encode_ordinary("x = 1") == hf_ids(tok, ["x = 1"])[0]


WITHOUT_TIKTOKEN = """import sys
sys.modules["tiktoken"] = None  # as on a machine without it: importing it fails
from tokenizer.encode import decode, encode_batch, fallback_reason
from tokenizer.load import load_tokenizer
tok = load_tokenizer(sys.argv[1])
print(fallback_reason(tok))
print(decode(tok, encode_batch(tok, ["def f(x):\\n    return x\\n"])[0]) == "def f(x):\\n    return x\\n")
"""


def test_without_tiktoken_encoding_falls_back_to_tokenizers(tok, tmp_path):
    tok.save(str(tmp_path / "tokenizer.json"))
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TIKTOKEN, str(tmp_path / "tokenizer.json")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    reason, round_trip = result.stdout.splitlines()
    assert reason.startswith("tiktoken not importable") and round_trip == "True"
