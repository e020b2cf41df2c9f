"""tokenizer.special_tokens: SpecialIds from a manifest's mapping, the default layout."""

from __future__ import annotations

import re

import pytest

from tokenizer.special_tokens import (ENDOFTEXT, EOM, FIM_PAD, MASKS, PAD, SEP, SPECIAL_TOKENS,
                                      SpecialIds, default_ids, listing, mask_token)


def test_default_is_the_codemix_layout():
    ids = SpecialIds.default()
    assert ids == SpecialIds.from_mapping(default_ids())
    assert [ids.id(t) for t in SPECIAL_TOKENS[:8 + len(MASKS)]] == list(range(8 + len(MASKS)))
    assert ids.masks == tuple(range(8, 8 + len(MASKS)))
    assert ids.missing(SPECIAL_TOKENS[:8 + len(MASKS)]) == []


def test_ids_come_from_the_mapping_and_absent_tokens_are_none():
    ids = SpecialIds.from_mapping({ENDOFTEXT: 50256, SEP: 50300, mask_token(1): 7,
                                   mask_token(2): 9, mask_token(4): 11, "<s>": 3})
    assert (ids.eot, ids.sep, ids.pad, ids.eom, ids.fim_pad) == (50256, 50300, None, None, None)
    assert ids.masks == (7, 9)  # the unbroken run from <mask_1>
    assert ids.missing([ENDOFTEXT, PAD, EOM, mask_token(2), mask_token(3), FIM_PAD]) == [
        PAD, EOM, mask_token(3), FIM_PAD]


def test_a_mapping_without_endoftext_is_refused():
    with pytest.raises(ValueError, match=re.escape("no <|endoftext|> among")):
        SpecialIds.from_mapping({SEP: 2})


def test_listing_shortens_runs_of_masks():
    assert listing([SEP, *MASKS, FIM_PAD, mask_token(3)]) == (
        "<sep>, <mask_1>..<mask_32>, <fim_pad>, <mask_3>")
    assert listing([]) == ""
