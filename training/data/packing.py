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

A sequence also carries the token ranges the build stored in its documents' metadata
(``shards.ranges``), moved to window positions: a ``no_loss`` mask (license headers,
redaction placeholders: tokens the objectives give no loss) and the top-level definitions
(``spans``), for objectives that place their spans on syntax boundaries. Only the
metadata of the documents a window touches is read (one small JSON object each), so the cost
stays O(documents in the window); a range cut by the window keeps the part inside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from shards import Shard
from shards.ranges import NO_LOSS, SPANS, ranges_of
from tokenizer.special_tokens import SpecialIds


class PackedSequence(NamedTuple):
    """One packed sequence.

    Attributes:
        tokens: int64 ids, shape ``[seq_len + 1]``.
        eot: bool mask, shape ``[seq_len + 1]``: True where ``tokens`` holds the EOT that
            ends a document (documents are the runs between them).
        no_loss: bool mask, shape ``[seq_len + 1]``: True where a token must take no loss
            (its document's ``no_loss`` ranges); never on an EOT.
        spans: int64 ``[k, 2]``: ``[start, end)`` window positions of the top-level
            definitions of the documents in the window (their ``spans`` ranges, clipped to
            the window), sorted; each lies inside one document.
    """

    tokens: np.ndarray
    eot: np.ndarray
    no_loss: np.ndarray
    spans: np.ndarray


class PackedComponent:
    """A component's documents as ``len(self)`` sequences of ``seq_len + 1`` tokens.

    Args:
        shards: the component's open shards, in manifest order.
        seq_len: tokens the model sees per sequence; windows hold ``seq_len + 1``.
        eot_id: id appended after every document: the corpus's ``<|endoftext|>``
            (``Corpus.specials.eot``); default the codemix id, 0.
        documents: the documents the stream holds, one ascending int64 array of document
            indices per shard; default every document. The stream is then those documents
            alone, in order (how held-out documents are kept out, ``training.data.holdout``).
    """

    def __init__(self, shards: Sequence[Shard], seq_len: int,
                 eot_id: int = SpecialIds.default().eot,
                 documents: Sequence[np.ndarray] | None = None):
        if seq_len <= 0:
            raise ValueError(f"seq_len must be positive, got {seq_len}")
        self.seq_len = seq_len
        self.eot_id = eot_id
        self.shards = list(shards)
        self.documents = ([np.arange(s.num_docs, dtype=np.int64) for s in self.shards]
                          if documents is None else [np.asarray(d, np.int64) for d in documents])
        # Stream position (within its shard's piece) where each kept document starts: each
        # piece is its documents' tokens, one EOT after every document.
        self._doc_starts = []
        lengths = []
        for shard, docs in zip(self.shards, self.documents):
            sizes = shard.offsets[docs + 1] - shard.offsets[docs] + 1
            ends = np.cumsum(sizes, dtype=np.int64)
            self._doc_starts.append(ends - sizes)
            lengths.append(int(ends[-1]) if len(ends) else 0)
        self._shard_starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        self.stream_length = int(self._shard_starts[-1])
        self.num_sequences = max(0, (self.stream_length - 1) // seq_len)

    def select(self, documents: Sequence[np.ndarray]) -> "PackedComponent":
        """The same shards packed over ``documents`` (per shard, ascending) only."""
        return PackedComponent(self.shards, self.seq_len, self.eot_id, documents)

    def __len__(self) -> int:
        return self.num_sequences

    def __getitem__(self, i: int) -> PackedSequence:
        if not 0 <= i < self.num_sequences:
            raise IndexError(f"sequence {i} out of range [0, {self.num_sequences})")
        start = i * self.seq_len
        return self.read(start, start + self.seq_len + 1)

    def read(self, start: int, stop: int) -> PackedSequence:
        """Stream positions ``[start, stop)`` as ids, masks and definition spans."""
        if not 0 <= start <= stop <= self.stream_length:
            raise IndexError(f"range [{start}, {stop}) outside the stream "
                             f"[0, {self.stream_length})")
        window = _Window(self.eot_id)
        first = int(np.searchsorted(self._shard_starts, start, side="right")) - 1
        for k in range(max(first, 0), len(self.shards)):
            lo, hi = self._shard_starts[k], self._shard_starts[k + 1]
            if lo >= stop:
                break
            if max(start, lo) >= min(stop, hi):  # before the range, or an empty shard
                continue
            self._read_shard(k, max(start, lo) - lo, min(stop, hi) - lo, window)
        return window.sequence()

    def _read_shard(self, k: int, lo: int, hi: int, window: _Window) -> None:
        """Add shard ``k``'s stream piece ``[lo, hi)`` to ``window``."""
        shard, starts, docs = self.shards[k], self._doc_starts[k], self.documents[k]
        offsets = shard.offsets
        pos = lo
        while pos < hi:
            j = int(np.searchsorted(starts, pos, side="right")) - 1
            doc = int(docs[j])
            local = pos - int(starts[j])
            length = int(offsets[doc + 1] - offsets[doc])
            take = min(hi - pos, length + 1 - local)  # the rest of the document and its EOT
            body = min(take, length - local)
            if body > 0:
                # One document's tokens: a view of the memory map, or one ranged read.
                window.add(shard.tokens(doc)[local:local + body], shard.meta(doc), local)
            if take > body:
                window.add_eot()
            pos += take


class _Window:
    """A sequence under construction: document parts and EOTs appended in stream order."""

    def __init__(self, eot_id: int):
        self.eot_id = eot_id
        self.tokens: list[np.ndarray] = []
        self.eot: list[int] = []  # positions
        self.ranges: dict[str, list[tuple[int, int]]] = {NO_LOSS: [], SPANS: []}
        self.length = 0

    def add(self, tokens: np.ndarray, meta: Mapping[str, Any], local: int) -> None:
        """Append a document's tokens ``[local, local + len(tokens))``; ``meta`` is its
        shard metadata, whose ranges are cut to the part and moved to window positions."""
        body = len(tokens)
        for key, found in self.ranges.items():
            for a, b in ranges_of(meta, key):
                a, b = max(a - local, 0), min(b - local, body)
                if a < b:
                    found.append((self.length + a, self.length + b))
        self.tokens.append(tokens.astype(np.int64))
        self.length += body

    def add_eot(self) -> None:
        """Append the EOT that ends a document."""
        self.tokens.append(np.array([self.eot_id], dtype=np.int64))
        self.eot.append(self.length)
        self.length += 1

    def sequence(self) -> PackedSequence:
        """The ``PackedSequence`` of everything appended."""
        eot = np.zeros(self.length, dtype=bool)
        eot[self.eot] = True
        no_loss = np.zeros(self.length, dtype=bool)
        for a, b in self.ranges[NO_LOSS]:
            no_loss[a:b] = True
        tokens = np.concatenate(self.tokens) if self.tokens else np.zeros(0, np.int64)
        spans = np.array(self.ranges[SPANS], dtype=np.int64).reshape(-1, 2)
        return PackedSequence(tokens, eot, no_loss, spans)
