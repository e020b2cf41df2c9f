"""Retrieval embeddings of texts: CodeT5+'s use of its encoder alone (``codemix embed``).

A text's embedding is the vector the contrastive loss scores it by (``training.bimodal``),
L2-normalised: the ``contrastive`` head on the pooled final state at the EOT after the
text. On an encoder-decoder that is the encoder's reading of ``text EOT`` (the decoder is
not run); on a decoder-only model trained with the contrastive head, the decoder's causal
reading of the same ids, which is how the contrastive pass reads each side of a pair in
its window (RoPE scores depend on relative positions only, so the side's offset there
does not matter). Texts are embedded in batches, each its own row right-padded with EOTs:
the encoder hides the padding, the decoder never reads past the EOT, so a text embeds the
same alone and in any batch. Cosine similarity of two embeddings is their dot product.

Input is JSON Lines, one object per line with a ``text`` string (code holds newlines, so a
text per line would not do); other fields are ignored. Output is a float32 ``.npy`` array
``[texts, embedding_dim]`` in input order when the output's name ends in ``.npy``, else
JSON Lines, one ``{"embedding": [...]}`` per input line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from tokenizer.encode import encode_batch
from tokenizer.special_tokens import SpecialIds
from training.bimodal import pooled, side_rows
from training.config import ConfigError
from training.model import Transformer


def read_texts(path: str) -> list[str]:
    """The ``text`` of each line of the JSON Lines file ``path``, in order (blank lines are
    skipped).

    Raises:
        ConfigError: one line: the file is missing or unreadable, or a line is not a JSON
            object with a ``text`` string (named by its number).
    """
    texts = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ConfigError(f"{path}:{number}: not JSON ({err.msg})") from None
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise ConfigError(f"{path}:{number}: expected an object with a \"text\" "
                                      "string")
                texts.append(record["text"])
    except OSError as err:
        raise ConfigError(f"cannot read --input {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return texts


@torch.no_grad()
def embed(model: Transformer, tok: Tokenizer, specials: SpecialIds, texts: Sequence[str], *,
          batch_size: int = 32) -> np.ndarray:
    """The L2-normalised contrastive embedding of each of ``texts``.

    Args:
        model: a checkpoint's model (``training.generate.load_model``), with the bimodal
            heads: an encoder-decoder or a decoder trained with ``bimodal``.
        tok: its tokenizer.
        specials: its special ids.
        texts: the texts; each is cut to the ``max_seq_len - 1`` tokens the model's
            rotary table holds beside its EOT.
        batch_size: texts per forward (memory only: the result does not depend on it).

    Returns:
        float32 ``[len(texts), embedding_dim]``, each row of unit norm.

    Raises:
        ConfigError: the model has no contrastive head.
    """
    if "contrastive" not in model.heads:
        raise ConfigError("this checkpoint has no contrastive head: embed needs an "
                          "encoder-decoder or a decoder trained with the bimodal objective")
    device = next(model.parameters()).device
    keep = model.args.max_seq_len - 1
    ids = [row[:keep] for row in encode_batch(tok, list(texts))] if texts else []
    parts = [np.zeros((0, model.args.embedding_dim), dtype=np.float32)]
    for first in range(0, len(ids), batch_size):
        rows = side_rows(ids[first:first + batch_size], specials,
                         encoder=model.encoder is not None)
        vectors = pooled(model, rows, "contrastive", specials, device)
        parts.append(F.normalize(vectors.float(), dim=-1).cpu().numpy())
    return np.concatenate(parts)


def write_embeddings(vectors: np.ndarray, out: str | None) -> None:
    """Write ``vectors`` as a ``.npy`` array when ``out`` ends in ``.npy``, else as JSON
    Lines (``{"embedding": [...]}`` per row) to ``out``, or to stdout when it is None.

    Raises:
        ConfigError: ``out`` cannot be written.
    """
    try:
        if out is not None and out.endswith(".npy"):
            np.save(out, vectors)
            return
        lines = "".join(json.dumps({"embedding": row}) + "\n" for row in vectors.tolist())
        if out is None:
            sys.stdout.write(lines)
            return
        with open(out, "w", encoding="utf-8") as f:
            f.write(lines)
    except OSError as err:
        raise ConfigError(f"cannot write --out {out}: {err.strerror}") from None
