"""The one place where text becomes token ids and back; every stage encodes through here.

Encoding has two paths that give the same ids. The fast one is ``tiktoken`` running the
tokenizer's own ranks and split regex (``tokenizer.fast``): on one core, 7.4x faster than
``tokenizers``' ``encode_batch_fast`` on 60 MB of Python (``bench/bench_encode.py``). It is
used only for a tokenizer that converts and then gave ids identical to HF ``tokenizers`` on
a check sample (``tokenizer.fast.ADVERSARIAL_TEXTS`` plus about 400 KB of standard-library
code); the check runs once per tokenizer per process, cached by the tokenizer's SHA-256.
Any other tokenizer is encoded by ``tokenizers`` (``encode_batch_fast``: no offsets, which we
never use), and the reason is logged once; ``fallback_reason`` says which path it gets.

Special-token strings in text are text. ``tokenizers`` matches added tokens in the input
before anything else, even with ``add_special_tokens=False``: a source file that mentions
``"<|endoftext|>"`` would otherwise be cut into a fake document boundary, and FIM or mask
sentinels could be forged by the data. ``encode_batch`` therefore turns on the tokenizer's
``encode_special_tokens`` switch, which makes those strings go through BPE like any other
text, and the ``tiktoken`` path knows no special tokens at all (``encode_ordinary``). Special
ids come only from code that inserts them by id (EOT, sentinels), so
``decode(encode(x)) == x`` holds exactly for any text (for a tokenizer without a lossy
normalizer), and no special id ever comes from text (``tokenizer.load`` insists that every
special token be a special added token, wherever its id is).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Tokenizer

if TYPE_CHECKING:
    import tiktoken

log = logging.getLogger(__name__)

# NOTE: per-process caches, so each worker converts and checks a tokenizer once. A tokenizer
# object is treated as immutable after its first encode (every codemix stage builds its own
# from tokenizer.json and never edits it); pickled copies hash to the same entry.
_by_sha: dict[str, tiktoken.Encoding | str] = {}
_by_object: weakref.WeakKeyDictionary[Tokenizer, tiktoken.Encoding | str] = (
    weakref.WeakKeyDictionary())
_lock = threading.Lock()


def _converted(tok: Tokenizer) -> tiktoken.Encoding | str:
    """``tok`` as a tiktoken Encoding checked against ``tokenizers``, or why it is not.

    NOTE: ``tokenizer.fast`` (and tiktoken with it) is imported here, on first use, not
    with this module: the trainer imports this module for the fim objective, and a machine
    without tiktoken then trains, encoding through ``tokenizers``.
    """
    try:
        from tokenizer import fast
    except ImportError as err:
        return f"tiktoken not importable: {err}"
    try:
        enc = fast.to_tiktoken(tok)
    except fast.NotConvertible as err:
        return f"not convertible: {err}"
    return fast.first_difference(tok, enc, _check_sample()) or enc


@functools.cache
def _check_sample() -> tuple[str, ...]:
    from tokenizer import fast

    return (*fast.ADVERSARIAL_TEXTS, *fast.reference_texts())


def _fast_encoder(tok: Tokenizer) -> tiktoken.Encoding | str:
    """The checked ``tiktoken`` Encoding for ``tok``, or why there is none (cached)."""
    found = _by_object.get(tok)
    if found is not None:
        return found
    with _lock:
        sha = hashlib.sha256(tok.to_str().encode("utf-8")).hexdigest()
        if sha not in _by_sha:
            _by_sha[sha] = _converted(tok)
            if isinstance(_by_sha[sha], str):
                log.warning("tokenizer %s: encoding with tokenizers, not tiktoken (%s)",
                            sha[:12], _by_sha[sha])
        _by_object[tok] = _by_sha[sha]
        return _by_sha[sha]


def fallback_reason(tok: Tokenizer) -> str | None:
    """Why ``encode_batch`` encodes with ``tokenizers`` for ``tok``, or None if it uses tiktoken.

    The first call for a tokenizer (by content, per process) converts it and checks the
    conversion, which takes about a second; call it when a worker sets up, so the first
    batch does not pay for it and the fallback can be counted there.

    Args:
        tok: the tokenizer ``encode_batch`` will be given.

    Returns:
        None when the fast path is used; otherwise one line, e.g. ``"not convertible: has a
        normalizer (Lowercase)"`` or where tiktoken's ids first differed on the check sample.
    """
    found = _fast_encoder(tok)
    return found if isinstance(found, str) else None


def encode_batch(tok: Tokenizer, texts: list[str]) -> list[np.ndarray]:
    """Encode documents to token ids, adding no special tokens.

    Uses ``tiktoken`` when ``tok`` converts and passed the check (see the module docstring),
    else ``tokenizers``; the ids are the same either way. The first call for a tokenizer
    runs the check (see ``fallback_reason``).

    Side effect: sets ``tok.encode_special_tokens = True`` (see the module docstring). It is
    set on every call because the switch is runtime state that ``tokenizer.json`` and
    pickling drop, and Beam hands workers unpickled copies.

    Args:
        tok: a tokenizer checked by ``tokenizer.load`` or made by ``tokenizer.train``.
        texts: documents; must be valid Unicode (no lone surrogates). The ``tiktoken`` path
            encodes them one after another on the calling thread; ``tokenizers`` encodes the
            batch in parallel over its own thread pool.

    Returns:
        One 1-D ``np.uint32`` array of ids per text, in order.
    """
    tok.encode_special_tokens = True
    enc = _fast_encoder(tok)
    if not isinstance(enc, str):
        return [np.asarray(enc.encode_ordinary(text), dtype=np.uint32) for text in texts]
    return [np.asarray(e.ids, dtype=np.uint32)
            for e in tok.encode_batch_fast(texts, add_special_tokens=False)]


def decode(tok: Tokenizer, ids: Sequence[int] | np.ndarray) -> str:
    """Turn ids back into text, special tokens included verbatim.

    Args:
        tok: the tokenizer the ids came from.
        ids: token ids, a sequence of ints or a 1-D integer array.

    Returns:
        The text; equal to the input of ``encode_batch`` for ids it produced.
    """
    return tok.decode(np.asarray(ids).tolist(), skip_special_tokens=False)
