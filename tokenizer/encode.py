"""The one place where text becomes token ids and back; every stage encodes through here.

Encoding uses HF ``tokenizers`` (``encode_batch_fast``: no offsets, which we never use).
A faster ``tiktoken`` path, checked token-identical against this one before it is trusted,
would go here and nowhere else (see DESIGN.md, "Encoding speed").

Special-token strings in text are text. ``tokenizers`` matches added tokens in the input
before anything else, even with ``add_special_tokens=False``: a source file that mentions
``"<|endoftext|>"`` would otherwise be cut into a fake document boundary, and FIM or mask
sentinels could be forged by the data. ``encode_batch`` therefore turns on the tokenizer's
``encode_special_tokens`` switch, which makes those strings go through BPE like any other
text. Special ids come only from code that inserts them by id (EOT, sentinels), so
``decode(encode(x)) == x`` holds exactly for any text, and no id below
``len(SPECIAL_TOKENS)`` ever comes from text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tokenizers import Tokenizer


def encode_batch(tok: Tokenizer, texts: list[str]) -> list[np.ndarray]:
    """Encode documents to token ids, adding no special tokens.

    Side effect: sets ``tok.encode_special_tokens = True`` (see the module docstring). It is
    set on every call because the switch is runtime state that ``tokenizer.json`` and
    pickling drop, and Beam hands workers unpickled copies.

    Args:
        tok: a tokenizer checked by ``tokenizer.load`` or made by ``tokenizer.train``.
        texts: documents; must be valid Unicode (no lone surrogates). ``tokenizers`` encodes
            the batch in parallel over its own thread pool.

    Returns:
        One 1-D ``np.uint32`` array of ids per text, in order.
    """
    tok.encode_special_tokens = True
    return [np.asarray(enc.ids, dtype=np.uint32)
            for enc in tok.encode_batch_fast(texts, add_special_tokens=False)]


def decode(tok: Tokenizer, ids: Sequence[int] | np.ndarray) -> str:
    """Turn ids back into text, special tokens included verbatim.

    Args:
        tok: the tokenizer the ids came from.
        ids: token ids, a sequence of ints or a 1-D integer array.

    Returns:
        The text; equal to the input of ``encode_batch`` for ids it produced.
    """
    return tok.decode(np.asarray(ids).tolist(), skip_special_tokens=False)
