"""tokenizer.train: special ids, vocabulary size, byte coverage, pre-tokenisation (whitespace
runs, digits), guaranteed whitespace tokens, the fast path for every setting, determinism."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from tokenizers import pre_tokenizers

from tests.tokenizer.test_tokenizer_encode import HARD_TEXTS
from tokenizer import fast
from tokenizer.encode import decode, encode_batch, fallback_reason
from tokenizer.special_tokens import SPECIAL_TOKENS
from tokenizer.train import (BYTE_ALPHABET_SIZE, SPACE_RUNS, TAB_RUNS, min_vocab_size,
                             train_bpe, whitespace_runs)


def test_special_tokens_take_the_first_ids_in_order(tok):
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))


def test_vocab_size_is_honoured(tok, vocab_size):
    assert tok.get_vocab_size() == vocab_size


def test_small_corpus_gives_at_most_vocab_size():
    small = train_bpe(["def f(x):\n    return x\n"] * 3, 5000)
    assert min_vocab_size() < small.get_vocab_size() < 5000


def test_vocab_size_below_minimum_is_rejected_naming_it():
    smallest = len(SPECIAL_TOKENS) + BYTE_ALPHABET_SIZE + (SPACE_RUNS - 1) + (TAB_RUNS - 1)
    assert min_vocab_size() == smallest
    with pytest.raises(ValueError, match=f"at least {smallest}"):
        train_bpe(["x"], smallest - 1)
    assert train_bpe(["x"], smallest).get_vocab_size() == smallest
    assert min_vocab_size(1, 1) == len(SPECIAL_TOKENS) + BYTE_ALPHABET_SIZE


def test_every_byte_is_in_the_vocabulary_whatever_the_corpus():
    ascii_only = train_bpe(["abc abc abc"], min_vocab_size() + 10)
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
    assert pieces(tok, "a\r\n\r\n\tb") == ["a", "\r\n\r\n", "\t", "b"]


def test_whitespace_runs_are_whole_pieces_of_one_kind(tok):
    # Tabs never join a word; spaces before a digit or a line end stay together.
    assert pieces(tok, "\t\treturn x\n") == ["\t\t", "return", " x", "\n"]
    assert pieces(tok, "x =    1   \n") == ["x", " =", "    ", "1", "   ", "\n"]
    assert pieces(tok, "\t  (y)") == ["\t", " ", " (", "y", ")"]
    assert pieces(tok, "a\u00a0\u3000 b") == ["a", "\u00a0\u3000", " b"]


def test_runs_longer_than_the_guarantee_are_cut(tok):
    assert pieces(tok, " " * 70 + "x") == [" " * 31, " " * 31, " " * 7, " x"]
    assert pieces(tok, "\t" * 20 + "x") == ["\t" * 9, "\t" * 9, "\t\t", "x"]


@pytest.mark.parametrize("digits, expected", [
    (3, ["123", "456", "7", " x", "1", "."]),
    (1, ["1", "2", "3", "4", "5", "6", "7", " x", "1", "."]),
    (2, ["12", "34", "56", "7", " x", "1", "."]),
    (0, ["1234567", " x", "1", "."]),
])
def test_digits_are_split_as_configured(digits, expected):
    small = train_bpe(["x = 12"], min_vocab_size() + 10, digits=digits)
    assert pieces(small, "1234567 x1.") == expected


def test_words_take_one_leading_symbol_and_scripts_are_words(tok):
    assert pieces(tok, "self.append(café_naïve)") == [
        "self", ".append", "(café", "_naïve", ")"]


def test_special_token_strings_never_survive_pre_tokenisation(tok):
    # Hence no merge can ever produce a special token's string from text.
    for token in SPECIAL_TOKENS:
        assert token not in pieces(tok, f"a{token}b {token} ")


def one_token_runs(tok, runs: list[str]) -> list[str]:
    """The runs of ``runs`` that ``tok`` encodes as one token, alone and inside code (before
    a digit, which takes no leading space)."""
    found = []
    for run in runs:
        alone = encode_batch(tok, [run])[0]
        inside = encode_batch(tok, [f"x = [\n{run}1,\n"])[0].tolist()
        if len(alone) == 1 and alone[0] in inside:
            found.append(run)
    return found


def test_whitespace_runs_are_tokens_even_when_never_seen(corpus):
    # No run of two tabs in the corpus, none of spaces at all in the second one.
    assert not any("\t\t" in text for text in corpus[:10])
    filled = train_bpe(corpus[:10], min_vocab_size() + 200)
    assert filled.get_vocab_size() == min_vocab_size() + 200
    assert one_token_runs(filled, whitespace_runs()) == whitespace_runs()
    spaceless = train_bpe(["def\tf(x):return(x)"] * 50, min_vocab_size() + 200)
    assert one_token_runs(spaceless, whitespace_runs()) == whitespace_runs()


def test_trained_tokenizer_has_every_whitespace_run(tok):
    assert len(whitespace_runs()) == (SPACE_RUNS - 1) + (TAB_RUNS - 1)
    assert one_token_runs(tok, whitespace_runs()) == whitespace_runs()


def test_run_lengths_are_configurable(corpus):
    small = train_bpe(corpus[:10], min_vocab_size(4, 3) + 100, space_runs=4, tab_runs=3)
    assert small.get_vocab_size() == min_vocab_size(4, 3) + 100
    assert whitespace_runs(4, 3) == ["  ", "   ", "    ", "\t\t", "\t\t\t"]
    assert one_token_runs(small, whitespace_runs(4, 3)) == whitespace_runs(4, 3)
    assert len(encode_batch(small, [" " * 5])[0]) == 2


@pytest.mark.parametrize("digits, space_runs, tab_runs",
                         [(3, 31, 9), (1, 31, 9), (0, 31, 9), (1, 8, 2), (3, 1, 1)])
def test_fast_path_is_valid_and_identical_for_every_setting(corpus, digits, space_runs,
                                                            tab_runs):
    tok = train_bpe(corpus[:20], 1500, digits=digits, space_runs=space_runs,
                    tab_runs=tab_runs)
    assert fallback_reason(tok) is None
    enc = fast.to_tiktoken(tok)
    texts = [*corpus[20:30], *HARD_TEXTS, " " * 200 + "\t" * 50 + "  \t  x 1234567890\n"]
    assert fast.first_difference(tok, enc, texts) is None
    assert [decode(tok, ids) for ids in encode_batch(tok, texts)] == texts


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
        print(hashlib.sha256(train_bpe(texts, 1500, digits=1).to_str().encode()).hexdigest())
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    digests = {
        subprocess.run([sys.executable, "-c", script], cwd=root, check=True, text=True,
                       capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed}
                       ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1 and "" not in digests
