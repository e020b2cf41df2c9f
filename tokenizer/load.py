"""Load a ``tokenizer.json`` from any fsspec URL and check it against our special tokens.

Every stage and the trainer assume ``SPECIAL_TOKENS[i]`` has id ``i`` (shards store ids, the
objectives build infill sequences from ids). A tokenizer that breaks this would silently
produce wrong training data, so loading refuses it with one line naming the first bad token,
when the pipeline is built rather than when a worker first uses it.
"""

from __future__ import annotations

import fsspec
from tokenizers import Tokenizer

from tokenizer.special_tokens import SPECIAL_TOKENS


class TokenizerError(ValueError):
    """A tokenizer file that is unreadable or does not match ``SPECIAL_TOKENS``."""


def special_ids(tok: Tokenizer) -> dict[str, int]:
    """Check every special token and return its id.

    A special token must exist, have id ``SPECIAL_TOKENS.index(token)``, and be registered as
    a *special* added token: only then does ``tokenizer.encode`` read its literal string in
    text as plain text, and does decoding keep it verbatim.

    Args:
        tok: the tokenizer to check.

    Returns:
        Token string to id, for every token of ``SPECIAL_TOKENS`` in order (what the
        manifest records).

    Raises:
        TokenizerError: naming the first special token that is missing, misplaced or not
            marked special.
    """
    added = tok.get_added_tokens_decoder()
    for expected, token in enumerate(SPECIAL_TOKENS):
        got = tok.token_to_id(token)
        if got is None:
            raise TokenizerError(f"special token {token!r} is missing (expected id {expected})")
        if got != expected:
            raise TokenizerError(f"special token {token!r} has id {got}, expected {expected}")
        if got not in added or not added[got].special:
            raise TokenizerError(f"special token {token!r} (id {got}) is not a special added token")
    return {token: i for i, token in enumerate(SPECIAL_TOKENS)}


def tokenizer_from_str(text: str) -> Tokenizer:
    """Parse a ``tokenizer.json`` document and check its special tokens.

    Args:
        text: the JSON text, as written by ``Tokenizer.to_str()`` or ``save()``.

    Raises:
        TokenizerError: the text is not a tokenizer, or its special tokens are wrong.
    """
    try:
        tok = Tokenizer.from_str(text)
    except Exception as err:  # tokenizers raises a bare Exception on bad JSON or schema
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TokenizerError(f"not a tokenizer.json: {first_line}") from err
    special_ids(tok)
    return tok


def load_tokenizer(url: str) -> Tokenizer:
    """Read a ``tokenizer.json`` from ``url`` and check its special tokens.

    Args:
        url: any fsspec URL or local path (``gs://b/tokenizer.json``, ``/tmp/t.json``).

    Raises:
        TokenizerError: the file is not a tokenizer, or its special tokens are wrong.
        FileNotFoundError: nothing at ``url``.
    """
    with fsspec.open(url, "rt", encoding="utf-8") as f:
        text = f.read()
    return tokenizer_from_str(text)
