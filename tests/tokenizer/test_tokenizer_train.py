"""tokenizer.train: special ids, vocabulary size, byte coverage, pre-tokenisation, determinism."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from tokenizers import pre_tokenizers

from tokenizer.special_tokens import SPECIAL_TOKENS
from tokenizer.train import BYTE_ALPHABET_SIZE, MIN_VOCAB_SIZE, train_bpe


def test_special_tokens_take_the_first_ids_in_order(tok):
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))


def test_vocab_size_is_honoured(tok, vocab_size):
    assert tok.get_vocab_size() == vocab_size


def test_small_corpus_gives_at_most_vocab_size():
    small = train_bpe(["def f(x):\n    return x\n"] * 3, 5000)
    assert MIN_VOCAB_SIZE < small.get_vocab_size() < 5000


def test_vocab_size_below_minimum_is_rejected_naming_it():
    assert MIN_VOCAB_SIZE == len(SPECIAL_TOKENS) + BYTE_ALPHABET_SIZE
    with pytest.raises(ValueError, match=f"at least {MIN_VOCAB_SIZE}"):
        train_bpe(["x"], MIN_VOCAB_SIZE - 1)
    assert train_bpe(["x"], MIN_VOCAB_SIZE).get_vocab_size() == MIN_VOCAB_SIZE


def test_every_byte_is_in_the_vocabulary_whatever_the_corpus():
    ascii_only = train_bpe(["abc abc abc"], MIN_VOCAB_SIZE + 10)
    vocab = ascii_only.get_vocab()
    assert all(symbol in vocab for symbol in pre_tokenizers.ByteLevel.alphabet())


def test_no_post_processor_adds_tokens(tok):
    assert tok.post_processor is None
    with_specials = tok.encode("x = 1", add_special_tokens=True).ids
    assert with_specials == tok.encode("x = 1", add_special_tokens=False).ids


def pieces(tok, text: str) -> list[str]:
    """Pre-tokenised pieces of ``text``, mapped back from byte-level symbols to text."""
    return [text[start:end] for _, (start, end) in tok.pre_tokenizer.pre_tokenize_str(text)]


def test_newlines_are_never_joined_to_the_next_indentation(tok):
    assert pieces(tok, "if x:\n        return y\n") == [
        "if", " x", ":", "\n", "       ", " return", " y", "\n"]
    assert pieces(tok, "a\r\n\r\n\tb") == ["a", "\r\n\r\n", "\tb"]


def test_digits_are_split_in_groups_of_three(tok):
    assert pieces(tok, "1234567") == ["123", "456", "7"]


def test_words_take_one_leading_symbol_and_scripts_are_words(tok):
    assert pieces(tok, "self.append(café_naïve)") == [
        "self", ".append", "(café", "_naïve", ")"]


def test_special_token_strings_never_survive_pre_tokenisation(tok):
    # Hence no merge can ever produce a special token's string from text.
    for token in SPECIAL_TOKENS:
        assert token not in pieces(tok, f"a{token}b {token} ")


def test_training_is_deterministic_in_one_process(corpus):
    assert train_bpe(corpus[:15], 1200).to_str() == train_bpe(corpus[:15], 1200).to_str()


def test_training_does_not_depend_on_text_order(corpus):
    assert train_bpe(corpus[:15], 1200).to_str() == train_bpe(corpus[14::-1], 1200).to_str()


def test_training_is_deterministic_across_processes():
    # Rust hash maps are seeded per process, so only separate processes can show it.
    script = textwrap.dedent("""
        import hashlib, pathlib, sysconfig
        from tokenizer.train import train_bpe
        root = pathlib.Path(sysconfig.get_paths()["stdlib"])
        texts = [p.read_text(encoding="utf-8") for p in sorted(root.glob("*.py"))[:15]]
        print(hashlib.sha256(train_bpe(texts, 1500).to_str().encode()).hexdigest())
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    digests = {
        subprocess.run([sys.executable, "-c", script], cwd=root, check=True, text=True,
                       capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed}
                       ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1 and "" not in digests
