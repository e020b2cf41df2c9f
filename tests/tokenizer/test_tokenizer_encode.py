"""tokenizer.encode: exact round trips, dtype, and special-token strings in text staying text."""

from __future__ import annotations

import pickle
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from tokenizer.encode import decode, encode_batch
from tokenizer.special_tokens import ENDOFTEXT, SPECIAL_TOKENS, mask_token

HARD_TEXTS = [
    "",
    "\tindented\twith\ttabs\n\t\tand more\t\n",
    "windows\r\nline\r\nendings\r\n\r\n    and a lone\rcarriage return",
    "trailing spaces   \n   \n",
    "unicode: café naïve Ünïcödé 東京 日本語 Ελληνικά עברית العربية ẞ ǅ",
    "combining: e\u0301 a\u030a n\u0303 \u0915\u094d\u0937",
    "emoji: 😀 👍🏽 👩‍👩‍👧‍👦 🇫🇷 ❤️ \U0001F9EA",
    "controls: \x00 \x01 \x7f \x1b[31m \u200b \ufeff \u2028 end",
    "s = '<|endoftext|>'  # a source file that mentions the document separator\n",
    "x" * 5000 + " " * 300 + "1" * 1000,
]


def test_round_trip_is_exact_on_held_out_stdlib_code(tok, held_out):
    assert sum(map(len, held_out)) > 200_000
    assert [decode(tok, ids) for ids in encode_batch(tok, held_out)] == held_out


def test_round_trip_is_exact_on_hard_text(tok):
    assert [decode(tok, ids) for ids in encode_batch(tok, HARD_TEXTS)] == HARD_TEXTS


def test_encode_batch_gives_uint32_arrays_in_input_order(tok):
    out = encode_batch(tok, ["a = 1", "", "b = 2"])
    assert [a.dtype for a in out] == [np.uint32] * 3
    assert [a.ndim for a in out] == [1, 1, 1]
    assert len(out[1]) == 0
    assert out[0].tolist() == tok.encode("a = 1").ids
    assert encode_batch(tok, []) == []


def test_no_special_tokens_are_added(tok):
    ids = encode_batch(tok, ["def f(): pass"])[0]
    assert int(ids.min()) >= len(SPECIAL_TOKENS)


@pytest.mark.parametrize("token", SPECIAL_TOKENS)
def test_special_token_strings_in_text_are_plain_text(tok, token):
    text = f"x = '{token}'\n{token}{token}"
    ids = encode_batch(tok, [text])[0]
    assert int(ids.min()) >= len(SPECIAL_TOKENS)
    assert decode(tok, ids) == text


def test_special_token_strings_stay_text_after_pickling(tok):
    # Beam ships tokenizers to workers pickled, which drops tokenizers' runtime switches.
    copy = pickle.loads(pickle.dumps(tok))
    ids = encode_batch(copy, [ENDOFTEXT])[0]
    assert len(ids) > 1 and int(ids.min()) >= len(SPECIAL_TOKENS)


def test_decode_renders_special_ids_inserted_by_id(tok):
    body = encode_batch(tok, ["middle"])[0].tolist()
    ids = [tok.token_to_id(mask_token(1))] + body + [tok.token_to_id(ENDOFTEXT)]
    assert decode(tok, np.asarray(ids, dtype=np.uint32)) == "<mask_1>middle<|endoftext|>"


def test_round_trip_is_exact_on_the_whole_standard_library(tok):
    """Every UTF-8 text file of the running Python's standard library decodes back
    byte-exact through ``encode_batch`` (the fast path where it applies)."""
    texts = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            texts.append(path.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError):
            continue  # not text we would keep (the build drops it as not_utf8)
    assert len(texts) > 1000
    for start in range(0, len(texts), 256):
        batch = texts[start:start + 256]
        for text, ids in zip(batch, encode_batch(tok, batch)):
            assert decode(tok, ids) == text
