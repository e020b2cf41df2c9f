"""tokenizer.load: reading from fsspec URLs, finding special tokens wherever a tokenizer has
them, adding the missing ones when allowed and refusing in one line when not."""

from __future__ import annotations

import json

import fsspec
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from tokenizer.encode import decode, encode_batch, fallback_reason
from tokenizer.load import (TokenizerError, adopt, load_tokenizer, special_ids,
                            tokenizer_from_str, vocab_size)
from tokenizer.special_tokens import ENDOFTEXT, EOM, SEP, SPECIAL_TOKENS, default_ids


def edited(tok, edit) -> str:
    """``tok``'s JSON after ``edit(dict)`` has changed it in place."""
    data = json.loads(tok.to_str())
    edit(data)
    return json.dumps(data)


def foreign(corpus: list[str], specials: list[str]) -> Tokenizer:
    """A GPT-2-style byte-level BPE whose special tokens come after its whole vocabulary."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus[:10], trainers.BpeTrainer(
        vocab_size=700, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_special_tokens(specials)
    return tok


def test_special_ids_of_a_trained_tokenizer_are_the_codemix_ids(tok):
    assert special_ids(tok) == default_ids()


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


def test_special_ids_are_found_wherever_they_are(corpus):
    gpt2 = foreign(corpus, ["<s>", "</s>", "<fim_prefix>"])
    base = gpt2.get_vocab_size(with_added_tokens=False)
    assert special_ids(gpt2) == {"<fim_prefix>": base + 2}
    assert special_ids(gpt2, {ENDOFTEXT: "</s>"}) == {ENDOFTEXT: base + 1,
                                                      "<fim_prefix>": base + 2}


def test_missing_required_tokens_are_refused_naming_all_in_one_line(corpus):
    gpt2 = foreign(corpus, ["<|endoftext|>"])
    required = (ENDOFTEXT, SEP, EOM, "<mask_1>", "<mask_2>")
    with pytest.raises(TokenizerError) as err:
        adopt(gpt2, required=required)
    message = str(err.value)
    assert message.startswith("lacks the special tokens <sep>, <eom>, <mask_1>..<mask_2> (")
    assert "\n" not in message and "add_missing_special_tokens" in message
    before = gpt2.to_str()
    assert adopt(gpt2, required=(ENDOFTEXT,)) == {ENDOFTEXT: gpt2.token_to_id(ENDOFTEXT)}
    assert gpt2.to_str() == before  # used as it is


def test_missing_tokens_are_appended_after_the_vocabulary_when_allowed(corpus):
    gpt2 = foreign(corpus, ["<|endoftext|>"])
    eot, size = gpt2.token_to_id(ENDOFTEXT), vocab_size(gpt2)
    ids = adopt(gpt2, required=(ENDOFTEXT, SEP), add_missing=True)
    assert list(ids) == list(SPECIAL_TOKENS)
    assert ids[ENDOFTEXT] == eot  # an id the tokenizer has is never moved
    added = [ids[t] for t in SPECIAL_TOKENS[1:]]
    assert added == list(range(size, size + len(SPECIAL_TOKENS) - 1))
    assert vocab_size(gpt2) == size + len(SPECIAL_TOKENS) - 1
    assert special_ids(gpt2) == ids
    # Added tokens are special: their strings in text stay text, inserted ids decode.
    assert fallback_reason(gpt2) is None
    text = "x = '<sep><mask_1>'\n"
    encoded = encode_batch(gpt2, [text])[0]
    assert not set(encoded.tolist()) & set(ids.values())
    assert decode(gpt2, [ids[SEP], *encoded.tolist()]) == "<sep>" + text


def test_a_mapped_name_is_added_under_that_name(corpus):
    gpt2 = foreign(corpus, ["<s>"])
    ids = adopt(gpt2, names={ENDOFTEXT: "</s>"}, required=(ENDOFTEXT,), add_missing=True)
    assert gpt2.token_to_id("</s>") == ids[ENDOFTEXT]
    assert gpt2.token_to_id(ENDOFTEXT) is None


def test_a_required_mapped_token_is_named_by_its_own_name(corpus):
    gpt2 = foreign(corpus, ["<s>"])
    with pytest.raises(TokenizerError, match="^lacks the special tokens </s> "):
        adopt(gpt2, names={ENDOFTEXT: "</s>"}, required=(ENDOFTEXT,))


def test_special_token_not_marked_special_is_rejected(tok):
    def unmark(data):
        data["added_tokens"][0]["special"] = False

    with pytest.raises(TokenizerError, match="not a special added token"):
        special_ids(tokenizer_from_str(edited(tok, unmark)))


def test_vocab_size_is_one_more_than_the_largest_id(tok, corpus):
    assert vocab_size(tok) == tok.get_vocab_size()
    gpt2 = foreign(corpus, ["</s>"])
    assert vocab_size(gpt2) == gpt2.token_to_id("</s>") + 1


def test_garbage_is_rejected_in_one_line():
    with pytest.raises(TokenizerError, match="^not a tokenizer.json") as err:
        tokenizer_from_str('{"version": "1.0"}')
    assert "\n" not in str(err.value)


def test_tokenizer_error_is_a_value_error():
    assert issubclass(TokenizerError, ValueError)
