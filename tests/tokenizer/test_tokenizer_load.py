"""tokenizer.load: reading from fsspec URLs and refusing tokenizers with wrong special tokens."""

from __future__ import annotations

import json

import fsspec
import pytest

from tokenizer.load import TokenizerError, load_tokenizer, special_ids, tokenizer_from_str
from tokenizer.special_tokens import SPECIAL_TOKENS


def edited(tok, edit) -> str:
    """``tok``'s JSON after ``edit(dict)`` has changed it in place."""
    data = json.loads(tok.to_str())
    edit(data)
    return json.dumps(data)


def test_special_ids_are_the_fixed_ids(tok):
    assert special_ids(tok) == {t: i for i, t in enumerate(SPECIAL_TOKENS)}


def test_load_reads_local_paths_and_urls(tok, tmp_path):
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    assert load_tokenizer(str(path)).to_str() == tok.to_str()
    assert load_tokenizer(path.as_uri()).to_str() == tok.to_str()
    with fsspec.open("memory://codemix-test/tokenizer.json", "wt") as f:
        f.write(tok.to_str())
    assert load_tokenizer("memory://codemix-test/tokenizer.json").to_str() == tok.to_str()


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_tokenizer(str(tmp_path / "absent.json"))


def test_missing_special_token_is_rejected(tok):
    def drop_sep(data):
        data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != "<sep>"]
        del data["model"]["vocab"]["<sep>"]

    with pytest.raises(TokenizerError, match=r"^special token '<sep>' is missing"):
        tokenizer_from_str(edited(tok, drop_sep))


def test_misplaced_special_token_is_rejected_naming_the_first(tok):
    def swap_sep_and_eom(data):
        swap = {"<sep>": "<eom>", "<eom>": "<sep>"}
        ids = {t["content"]: t["id"] for t in data["added_tokens"]}
        for t in data["added_tokens"]:
            if t["content"] in swap:
                t["id"] = ids[swap[t["content"]]]
        vocab = data["model"]["vocab"]
        vocab["<sep>"], vocab["<eom>"] = vocab["<eom>"], vocab["<sep>"]

    with pytest.raises(TokenizerError, match=r"^special token '<sep>' has id 3, expected 2$"):
        tokenizer_from_str(edited(tok, swap_sep_and_eom))


def test_special_token_not_marked_special_is_rejected(tok):
    def unmark(data):
        data["added_tokens"][0]["special"] = False

    with pytest.raises(TokenizerError, match="not a special added token"):
        tokenizer_from_str(edited(tok, unmark))


def test_garbage_is_rejected_in_one_line():
    with pytest.raises(TokenizerError, match="^not a tokenizer.json") as err:
        tokenizer_from_str('{"version": "1.0"}')
    assert "\n" not in str(err.value)


def test_tokenizer_error_is_a_value_error():
    assert issubclass(TokenizerError, ValueError)
