"""Held-out documents: a fixed slice of the corpus that training never reads, in any
component.

Documents are held out by *source*: a document's source is its own id, except a bimodal
pair's, which is the id of the code document it was cut from (``source_id`` in its shard
metadata). The ``pairs`` component is cut out of the code components' files, so holding out
per component would leak both ways: a held-out pair would sit inside a training file, and a
held-out file's pairs would be trained on. Instead every component first chooses sources
for itself, taking its documents in the order of a hash of their source until they fill the
sequences asked for (at most half of the component's tokens); then every component holds
out every document whose source any component chose. So a held-out source's tokens reach no
training sequence of any component.

``split`` packs each component's training and held-out documents apart
(``PackedComponent.select``), so no token of a held-out document is in a training sequence,
as input or as target. The mixture plan is made over the training parts only
(``Corpus.mixture`` counts ``len(part)``); evaluation reads the first
``training.eval_sequences`` sequences of each held-out part.

Which documents are held out depends on the documents' sources and sizes, nothing else: the
data seed, the shard layout and the order of documents play no part, so runs with different
seeds evaluate on the same documents and their eval losses compare, and a document keeps its
side of the split when the corpus is rebuilt around it. The hash ignores the component, so a
code file and its pairs come up at the same point of their components' orders. A component
can lose more than half its tokens only to sources the other components chose (a small
``pairs`` component whose files the code component held out). A document without an ``id``
(shards not written by ``codemix build``) is its own source, keyed by its component and
position.
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


def source_key(source: str) -> int:
    """The 64-bit hash that orders documents of source ``source`` for holding out."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def document_sources(name: str, packed: PackedComponent) -> list[list[str]]:
    """Each document's source, per shard: a pair's ``source_id``, else its ``id``, else
    ``name:shard:index``."""
    return [[str(meta.get("source_id", meta.get("id", f"{name}:{k}:{d}")))
             for d, meta in enumerate(shard.metas())] for k, shard in enumerate(packed.shards)]


def chosen_sources(packed: PackedComponent, sources: list[list[str]], count: int) -> set[str]:
    """The sources one component holds out for its own evaluation.

    Its documents are taken in ``source_key`` order (ties in stream order) until their
    stream (tokens plus one EOT each) holds ``count`` sequences of ``packed.seq_len + 1``
    tokens, without passing half of the component's stream.

    Args:
        packed: the whole component.
        sources: ``document_sources`` of it.
        count: sequences wanted (``training.eval_sequences``); 0 chooses nothing.
    """
    flat = [source for shard in sources for source in shard]
    if count <= 0 or not flat:
        return set()
    sizes = np.concatenate([np.diff(shard.offsets) + 1 for shard in packed.shards])
    keys = np.array([source_key(source) for source in flat], dtype=np.uint64)
    order = np.lexsort((np.arange(len(flat)), keys))
    filled = np.cumsum(sizes[order])
    need = count * packed.seq_len + 1
    take = min(int(np.searchsorted(filled, need, side="left")) + 1,
               int(np.searchsorted(filled, packed.stream_length // 2, side="right")))
    return {flat[i] for i in order[:take]}


def split(components: Mapping[str, PackedComponent],
          count: int) -> tuple[dict[str, PackedComponent], dict[str, Part]]:
    """Hold out the sources of ``count`` sequences of every component, from all of them.

    Args:
        components: packed components by name (``Corpus.packed``).
        count: sequences each component chooses to hold out; 0 holds out nothing.

    Returns:
        ``(train, heldout)`` by name: the component packed over its documents of sources no
        component chose, and the first ``count`` sequences (fewer if its held-out
        documents do not fill them) of its other documents packed apart. With ``count`` 0
        the training part is the whole component, sequence for sequence.
    """
    sources = {name: document_sources(name, packed) for name, packed in components.items()}
    held_sources = set().union(*(chosen_sources(packed, sources[name], count)
                                 for name, packed in components.items()))
    train, heldout = {}, {}
    for name, packed in components.items():
        held = [np.array([d for d, source in enumerate(shard) if source in held_sources],
                         dtype=np.int64) for shard in sources[name]]
        kept = [np.setdiff1d(docs, out) for docs, out in zip(packed.documents, held)]
        train[name] = packed if count <= 0 else packed.select(kept)
        heldout[name] = Part(packed.select(held), count)
    return train, heldout
