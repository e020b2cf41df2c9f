"""Who may attend to whom: the boolean attention mask of a batch, when causal is not enough.

Plain causal attention needs no mask tensor: the model calls SDPA with ``is_causal=True``,
the fast path (flash attention on a GPU). Two options need an explicit mask, built here as a
pure function of the batch and passed to ``Transformer.forward``:

- a **prefix** (``Example.prefix``, the ``prefix_lm`` objective): the first ``p`` positions
  of a row attend to each other in both directions, later positions causally;
- **document masking** (``training.document_mask``): a position attends only within its own
  document of the packed sequence.

Document boundaries are read from the input ids (by the corpus's special ids, ``SpecialIds``),
so every objective gets them without carrying them: a document ends with ``<|endoftext|>``
(EOT), which belongs to it (its
target is the next document's first token), unless the EOT is followed by ``<sep>``: that
EOT opens the document's own infill section in the ``codegen2`` layout
(``body EOT <sep> <mask_1> span <eom> ...``), which must see its body. The rule is
unambiguous because documents never contain special ids (``tokenizer.encode`` encodes
special-token strings as text). RoPE positions are not reset per document: RoPE scores
depend on relative positions only, so a document's attention does not depend on its offset.

The rules combine by "and": position ``i`` may attend to ``j`` when ``j <= i`` or ``j`` lies
in the prefix, and both are in the same document. Every position may attend to itself, so
no row of the mask is empty (an empty row would give NaN). Trade-off: a mask tensor costs
``batch * seq^2`` bytes and moves SDPA off the flash kernel to the memory-efficient one, so
it is built only when one of the options is on.
"""

from __future__ import annotations

import torch

from tokenizer.special_tokens import SpecialIds


def document_ids(inputs: torch.Tensor,
                 specials: SpecialIds = SpecialIds.default()) -> torch.Tensor:
    """Each position's document within its row: 0 for the first, counting up.

    Args:
        inputs: ``[batch, seq]`` token ids of packed sequences.
        specials: the corpus's special ids (default: the codemix layout); without a
            ``sep``, every EOT ends a document.

    Returns:
        int64 ``[batch, seq]``: the number of documents ended before each position (an EOT
        not followed by ``<sep>`` ends a document and belongs to it).
    """
    follows = torch.zeros_like(inputs, dtype=torch.bool)
    if specials.sep is not None:  # the last position has no follower in view
        follows[:, :-1] = inputs[:, 1:] == specials.sep
    ends = ((inputs == specials.eot) & ~follows).long()
    return ends.cumsum(dim=1) - ends


def build_mask(seq_len: int, *, prefix: torch.Tensor | None = None,
               documents: torch.Tensor | None = None,
               device: torch.device | None = None) -> torch.Tensor:
    """The boolean attention mask: True where a query position may attend to a key.

    Args:
        seq_len: positions per row.
        prefix: int ``[batch]``: leading positions of each row attending bidirectionally;
            None (or 0 / 1) for causal attention.
        documents: int ``[batch, seq_len]`` document ids (``document_ids``); None lets
            positions attend across documents.
        device: where to build it when neither tensor is given (default: the CPU).

    Returns:
        bool ``[batch, 1, seq_len, seq_len]`` (``[1, 1, ...]`` when neither tensor is
        given), indexed ``[row, head, query, key]`` and broadcast over heads, as
        ``F.scaled_dot_product_attention(attn_mask=...)`` takes it.
    """
    if prefix is not None:
        device = prefix.device
    elif documents is not None:
        device = documents.device
    pos = torch.arange(seq_len, device=device)
    allowed = pos[None, :] <= pos[:, None]  # [query, key]: causal
    if prefix is not None:
        # [batch, 1, key] < [batch, 1, 1]: keys inside the row's prefix are visible to all
        # queries; a later key stays hidden from prefix queries by the causal part.
        allowed = allowed | (pos[None, None, :] < prefix[:, None, None])
    if documents is not None:
        allowed = allowed & (documents[:, :, None] == documents[:, None, :])
    return allowed.view(-1, 1, seq_len, seq_len)


def attention_mask(inputs: torch.Tensor, *, prefix: torch.Tensor | None,
                   document_mask: bool,
                   specials: SpecialIds = SpecialIds.default()) -> torch.Tensor | None:
    """The mask a batch needs, or None when plain causal attention does (the fast path).

    Args:
        inputs: ``[batch, seq]`` token ids.
        prefix: int ``[batch]`` prefix lengths, None when the objective has no prefix
            (``MixtureLoader`` gives None then).
        document_mask: keep attention inside documents (``training.document_mask``).
        specials: the corpus's special ids (``Corpus.specials``), which mark documents;
            default the codemix layout.

    Returns:
        ``build_mask``'s bool ``[batch, 1, seq, seq]`` on ``inputs``' device, or None.
    """
    if prefix is None and not document_mask:
        return None
    return build_mask(inputs.shape[1], prefix=prefix,
                      documents=document_ids(inputs, specials) if document_mask else None,
                      device=inputs.device)
