"""Packing: one component's documents as fixed-length sequences, read on demand.

A component's documents, over all its shards in manifest order, form one virtual token
stream with ``<|endoftext|>`` (EOT) after every document (shards store documents without it;
its id is the corpus tokenizer's, ``SpecialIds.eot``, e.g. that of ``</s>`` for a given
tokenizer whose build config maps ``<|endoftext|>`` to ``</s>``)::

    doc0 EOT doc1 EOT doc2 EOT ...            (length: tokens + documents)

Sequence ``i`` is ``stream[i * seq_len : i * seq_len + seq_len + 1]``: windows of
``seq_len + 1`` tokens with stride ``seq_len``, so consecutive sequences share one token and
every stream token after the first is a next-token target exactly once. The stream's tail
that does not fill a window is dropped (less than one sequence per component).

Nothing is read up front: the index is built from each shard's document offsets (already in
memory), and a sequence is gathered document by document when asked for (views of the
memory map for local shards, one ranged read per document for remote ones), so opening a
component costs O(documents), not O(tokens). Each sequence comes with a mask of
its EOT positions. Plain CLM trains across document boundaries; ``training.document_mask``
stops attention at them, reading the boundaries from the EOT ids themselves
(``training.attention``), since objectives such as ``codegen2`` move them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from shards import Shard
from tokenizer.special_tokens import SpecialIds


class PackedSequence(NamedTuple):
    """One packed sequence.

    Attributes:
        tokens: int64 ids, shape ``[seq_len + 1]``.
        eot: bool mask, shape ``[seq_len + 1]``: True where ``tokens`` holds the EOT that
            ends a document (documents are the runs between them).
    """

    tokens: np.ndarray
    eot: np.ndarray


class PackedComponent:
    """A component's documents as ``len(self)`` sequences of ``seq_len + 1`` tokens.

    Args:
        shards: the component's open shards, in manifest order.
        seq_len: tokens the model sees per sequence; windows hold ``seq_len + 1``.
        eot_id: id appended after every document: the corpus's ``<|endoftext|>``
            (``Corpus.specials.eot``); default the codemix id, 0.
    """

    def __init__(self, shards: Sequence[Shard], seq_len: int,
                 eot_id: int = SpecialIds.default().eot):
        if seq_len <= 0:
            raise ValueError(f"seq_len must be positive, got {seq_len}")
        self.seq_len = seq_len
        self.eot_id = eot_id
        self._shards = list(shards)
        # Each shard's stream piece is its tokens plus one EOT per document.
        lengths = [s.num_tokens + s.num_docs for s in self._shards]
        self._shard_starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        # Stream position (within its shard's piece) where document d starts: every earlier
        # document added one EOT.
        self._doc_starts = [s.offsets[:-1] + np.arange(s.num_docs, dtype=np.int64)
                            for s in self._shards]
        self.stream_length = int(self._shard_starts[-1])
        self.num_sequences = max(0, (self.stream_length - 1) // seq_len)

    def __len__(self) -> int:
        return self.num_sequences

    def __getitem__(self, i: int) -> PackedSequence:
        if not 0 <= i < self.num_sequences:
            raise IndexError(f"sequence {i} out of range [0, {self.num_sequences})")
        start = i * self.seq_len
        return self.read(start, start + self.seq_len + 1)

    def read(self, start: int, stop: int) -> PackedSequence:
        """Stream positions ``[start, stop)`` as ids and an EOT mask."""
        if not 0 <= start <= stop <= self.stream_length:
            raise IndexError(f"range [{start}, {stop}) outside the stream "
                             f"[0, {self.stream_length})")
        tokens, eot = [], []
        first = int(np.searchsorted(self._shard_starts, start, side="right")) - 1
        for k in range(max(first, 0), len(self._shards)):
            lo, hi = self._shard_starts[k], self._shard_starts[k + 1]
            if lo >= stop:
                break
            if max(start, lo) >= min(stop, hi):  # before the range, or an empty shard
                continue
            t, e = self._read_shard(k, max(start, lo) - lo, min(stop, hi) - lo)
            tokens.append(t)
            eot.append(e)
        if not tokens:
            return PackedSequence(np.zeros(0, np.int64), np.zeros(0, bool))
        return PackedSequence(np.concatenate(tokens), np.concatenate(eot))

    def _read_shard(self, k: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        shard, starts, offsets = self._shards[k], self._doc_starts[k], self._shards[k].offsets
        tokens, eot = [], []
        pos = lo
        while pos < hi:
            doc = int(np.searchsorted(starts, pos, side="right")) - 1
            local = pos - int(starts[doc])
            length = int(offsets[doc + 1] - offsets[doc])
            take = min(hi - pos, length + 1 - local)  # the rest of the document and its EOT
            body = min(take, length - local)
            if body > 0:
                # One document's tokens: a view of the memory map, or one ranged read.
                tokens.append(shard.tokens(doc)[local:local + body].astype(np.int64))
                eot.append(np.zeros(body, dtype=bool))
            if take > body:
                tokens.append(np.array([self.eot_id], dtype=np.int64))
                eot.append(np.ones(1, dtype=bool))
            pos += take
        return np.concatenate(tokens), np.concatenate(eot)
