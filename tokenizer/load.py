"""Load a ``tokenizer.json`` from any fsspec URL, and find or add its special tokens.

A tokenizer trained by codemix has every special token at the ids of ``SPECIAL_TOKENS``. A
tokenizer brought by the user (``tokenizer.path``) has its own layout: GPT-2's has only
``<|endoftext|>`` (id 50256), StarCoder's has ``<|endoftext|>`` at 0 and the FIM tokens
but no ``<sep>`` or masks, others end documents with ``</s>``. ``adopt`` turns any of them
into a codemix tokenizer without moving an id it already has:

- a codemix special token is looked up under the tokenizer's own name for it when the
  config maps one (``tokenizer.special_tokens: {"<|endoftext|>": "</s>"}``), else under
  its codemix name; it must then be a *special* added token, so text never produces it
  (``tokenizer.encode`` encodes special-token strings as text);
- the tokens it lacks are appended after its vocabulary (new ids, in ``SPECIAL_TOKENS``
  order, so the vocabulary grows) when the config allows it, or else the tokenizer is
  refused with one line naming the required ones it lacks.

What comes out is the mapping codemix special token -> id that the manifest records and
``SpecialIds`` is built from. Errors are one line (``TokenizerError``), raised when the
pipeline is built rather than when a worker first uses the tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import fsspec
from tokenizers import AddedToken, Tokenizer

from tokenizer.special_tokens import SPECIAL_TOKENS, listing


class TokenizerError(ValueError):
    """A tokenizer file that is unreadable, or whose special tokens cannot be used."""


def special_ids(tok: Tokenizer, names: Mapping[str, str] | None = None) -> dict[str, int]:
    """The id of every codemix special token ``tok`` has.

    Args:
        tok: the tokenizer.
        names: codemix special token -> ``tok``'s own token for it (e.g.
            ``{"<|endoftext|>": "</s>"}``); a token not named here is looked up as itself.

    Returns:
        Codemix special token -> id, in ``SPECIAL_TOKENS`` order, for the tokens ``tok``
        has (what the manifest records).

    Raises:
        TokenizerError: a special token ``tok`` has is not registered as a *special* added
            token (text could then produce its id, forging a document boundary).
    """
    names = names or {}
    added = tok.get_added_tokens_decoder()
    ids = {}
    for token in SPECIAL_TOKENS:
        own = names.get(token, token)
        got = tok.token_to_id(own)
        if got is None:
            continue
        if got not in added or not added[got].special:
            raise TokenizerError(f"special token {own!r} (id {got}) is not a special added "
                                 "token, so text could produce it")
        ids[token] = got
    return ids


def adopt(tok: Tokenizer, *, names: Mapping[str, str] | None = None,
          required: Iterable[str] = (), add_missing: bool = False) -> dict[str, int]:
    """Check a given tokenizer's special tokens, adding the missing ones when allowed.

    Args:
        tok: the tokenizer; changed in place when tokens are added.
        names: codemix special token -> ``tok``'s own token for it (see ``special_ids``).
        required: codemix special tokens the tokenizer must end up with (e.g.
            ``<|endoftext|>``, and ``<sep>`` for a build with pairs).
        add_missing: append every codemix special token ``tok`` lacks (under its mapped
            name, if any) as a special added token with a new id after the vocabulary.

    Returns:
        Codemix special token -> id (``special_ids`` after any additions).

    Raises:
        TokenizerError: one line naming every required token ``tok`` lacks (when adding is
            not allowed), or a special token that is not a special added token.
    """
    names = names or {}
    ids = special_ids(tok, names)
    missing = [t for t in SPECIAL_TOKENS if t not in ids]
    if add_missing and missing:
        # tokenizers numbers added tokens after every id the tokenizer has, in list order.
        tok.add_special_tokens([AddedToken(names.get(t, t), special=True, normalized=False)
                                for t in missing])
        return special_ids(tok, names)
    lacking = [names.get(t, t) for t in required if t not in ids]
    if lacking:
        raise TokenizerError(f"lacks the special tokens {listing(lacking)} (set "
                             "tokenizer.add_missing_special_tokens: true to add them, or map "
                             "the tokenizer's own with tokenizer.special_tokens)")
    return ids


def vocab_size(tok: Tokenizer) -> int:
    """Number of ids ``tok`` can produce: one more than its largest id, added tokens
    included (a given tokenizer's ids may have holes; the model needs a row for each)."""
    return max(tok.get_vocab(with_added_tokens=True).values()) + 1


def tokenizer_from_str(text: str) -> Tokenizer:
    """Parse a ``tokenizer.json`` document.

    Args:
        text: the JSON text, as written by ``Tokenizer.to_str()`` or ``save()``.

    Raises:
        TokenizerError: the text is not a tokenizer (one line).
    """
    try:
        return Tokenizer.from_str(text)
    except Exception as err:  # tokenizers raises a bare Exception on bad JSON or schema
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TokenizerError(f"not a tokenizer.json: {first_line}") from err


def read_tokenizer_text(url: str) -> str:
    """The text of the ``tokenizer.json`` at ``url`` (any fsspec URL or local path).

    Raises:
        FileNotFoundError: nothing at ``url``.
    """
    with fsspec.open(url, "rt", encoding="utf-8") as f:
        return f.read()


def load_tokenizer(url: str) -> Tokenizer:
    """Read and parse the ``tokenizer.json`` at ``url``.

    Args:
        url: any fsspec URL or local path (``gs://b/tokenizer.json``, ``/tmp/t.json``).

    Raises:
        TokenizerError: the file is not a tokenizer.
        FileNotFoundError: nothing at ``url``.
    """
    return tokenizer_from_str(read_tokenizer_text(url))
