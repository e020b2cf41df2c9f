"""Held-out documents: a fixed slice of each component that training never reads.

``split`` divides every component's documents into a training part and a held-out part and
packs each on its own (``PackedComponent.select``), so no token of a held-out document is
ever in a training sequence, as input or as target. The mixture plan is made over the
training parts only (``Corpus.mixture`` counts ``len(part)``); evaluation reads the first
``training.eval_sequences`` sequences of the held-out part.

Which documents are held out depends on the component's name and its documents' ids,
nothing else: documents are taken in the order of a hash of (name, id) until they fill the
sequences asked for. The data seed, the shard layout and the order of documents play no
part, so runs with different seeds evaluate on the same documents and their eval losses
compare, and a document keeps its side of the split when the corpus is rebuilt around it.
At most half of a component's tokens are held out, so a small component still trains on
most of its data. A document without an ``id`` in its metadata (shards not written by
``codemix build``) is keyed by its position in the component instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from training.data.packing import PackedComponent, PackedSequence


class Sequences(Protocol):
    """What the loader reads a component through: a packed component, or a part of one."""

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> PackedSequence: ...


class Part:
    """The first ``count`` sequences of a packed component (fewer if it has fewer)."""

    def __init__(self, sequences: Sequences, count: int):
        self.sequences = sequences
        self.count = min(count, len(sequences))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, k: int) -> PackedSequence:
        if not 0 <= k < self.count:
            raise IndexError(f"sequence {k} out of range [0, {self.count})")
        return self.sequences[k]


def document_key(name: str, doc_id: str) -> int:
    """The 64-bit hash that orders component ``name``'s documents for holding out."""
    digest = hashlib.sha256(f"{name}\0{doc_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def heldout_documents(name: str, packed: PackedComponent, count: int) -> list[np.ndarray]:
    """The documents of component ``name`` to hold out, per shard (ascending indices).

    Documents are taken in ``document_key`` order until their stream (tokens plus one EOT
    each) holds ``count`` sequences of ``packed.seq_len + 1`` tokens, without passing half
    of the component's stream.

    Args:
        name: the component's name.
        packed: the whole component.
        count: sequences wanted (``training.eval_sequences``); 0 holds out nothing.
    """
    if count <= 0:
        return [np.zeros(0, np.int64) for _ in packed.shards]
    keys, sizes, where = [], [], []
    for k, shard in enumerate(packed.shards):
        for d, meta in enumerate(shard.metas()):
            keys.append(document_key(name, str(meta.get("id", f"{k}:{d}"))))
        sizes.append(np.diff(shard.offsets) + 1)
        where.append(np.stack([np.full(shard.num_docs, k), np.arange(shard.num_docs)], 1))
    if not keys:
        return [np.zeros(0, np.int64) for _ in packed.shards]
    sizes_all = np.concatenate(sizes)
    where_all = np.concatenate(where)
    order = np.lexsort((np.arange(len(keys)), np.array(keys, dtype=np.uint64)))
    filled = np.cumsum(sizes_all[order])
    need = count * packed.seq_len + 1
    take = min(int(np.searchsorted(filled, need, side="left")) + 1,
               int(np.searchsorted(filled, packed.stream_length // 2, side="right")))
    held = where_all[order[:take]]
    return [np.sort(held[held[:, 0] == k, 1]).astype(np.int64)
            for k in range(len(packed.shards))]


def split(components: Mapping[str, PackedComponent],
          count: int) -> tuple[dict[str, PackedComponent], dict[str, Part]]:
    """Hold out the documents of ``count`` sequences of every component.

    Args:
        components: packed components by name (``Corpus.packed``).
        count: sequences to hold out per component; 0 holds out nothing.

    Returns:
        ``(train, heldout)`` by name: the component packed over its other documents, and
        the first ``count`` sequences (fewer if half the component does not fill them) of
        its held-out documents packed apart. With ``count`` 0 the training part is the
        whole component, sequence for sequence.
    """
    train, heldout = {}, {}
    for name, packed in components.items():
        held = heldout_documents(name, packed, count)
        kept = [np.setdiff1d(docs, out) for docs, out in zip(packed.documents, held)]
        train[name] = packed if count <= 0 else packed.select(kept)
        heldout[name] = Part(packed.select(held), count)
    return train, heldout
