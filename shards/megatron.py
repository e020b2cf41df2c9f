"""Export to Megatron-LM's indexed dataset: ``.bin`` tokens and ``.idx`` index per component.

The layout (Megatron-LM ``megatron/core/datasets/indexed_dataset.py``, "MMIDIDX" version 1),
little-endian:

``.idx``: the magic ``b"MMIDIDX\\x00\\x00"`` (9 bytes), the version (uint64, 1), the token
dtype code (uint8: 1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float32,
8 uint16), the number of sequences N (uint64), the number of document indices D (uint64),
then ``sizes`` (int32 x N, tokens per sequence), ``pointers`` (int64 x N, byte offset of each
sequence in ``.bin``) and ``document_indices`` (int64 x D: where each document starts, in
sequences, ending with N).

``.bin``: every sequence's tokens back to back in that dtype.

Each codemix document is one sequence and one document (``document_indices = 0..N``); the
documents keep the order of the manifest's shards, so the export is deterministic.

Every exported document ends with the manifest's ``<|endoftext|>`` id. Megatron's GPTDataset
concatenates documents exactly as stored and adds nothing between them; its
``preprocess_data.py --append-eod`` is what puts the token in the data, and
``--eod-mask-loss`` / ``--reset-position-ids`` look for it there. Shards store documents
without it (the codemix packer adds it), so without the append Megatron would train across
document boundaries. ``append_eod=False`` writes the documents bare, for a user whose
Megatron fork adds its own.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

import numpy as np

from shards.format import Shard
from shards.manifest import Manifest, ManifestError, resolve
from tokenizer.special_tokens import ENDOFTEXT

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
DTYPE_CODES = {np.dtype(np.uint8): 1, np.dtype(np.int8): 2, np.dtype(np.int16): 3,
               np.dtype(np.int32): 4, np.dtype(np.int64): 5, np.dtype(np.float64): 6,
               np.dtype(np.float32): 7, np.dtype(np.uint16): 8}
"""numpy dtype -> Megatron's dtype code."""


def _documents(manifest: Manifest, url: str, component: str) -> Iterator[np.ndarray]:
    for entry in manifest.component(component).shards:
        with Shard(resolve(url, entry.path)) as shard:
            for i in range(len(shard)):
                yield np.asarray(shard.tokens(i))


def export_component(manifest: Manifest, url: str, component: str, prefix: str,
                     append_eod: bool = True) -> int:
    """Write ``prefix.bin`` and ``prefix.idx`` for one component; returns its documents.

    Tokens stream into ``.bin`` one document at a time; only the per-document sizes are
    held (4 + 8 bytes per document) until the index is written.

    Args:
        append_eod: end every document with the manifest's ``<|endoftext|>`` id (default),
            as Megatron's ``preprocess_data.py --append-eod`` does; False writes them bare.
    """
    dtype = np.dtype(manifest.token_dtype)
    if dtype == np.dtype(np.uint32):  # Megatron has no uint32 code; ids fit int32
        dtype = np.dtype(np.int32)
    little = dtype.newbyteorder("<")
    eot = manifest.tokenizer.special_tokens.get(ENDOFTEXT)
    if append_eod and eot is None:
        raise ManifestError(f"the manifest's tokenizer has no {ENDOFTEXT} to end documents with")
    eod = np.array([eot] if append_eod else [], dtype=little)
    sizes: list[int] = []
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    with open(prefix + ".bin", "wb") as out:
        for tokens in _documents(manifest, url, component):
            out.write(tokens.astype(little, copy=False).tobytes())
            out.write(eod.tobytes())
            sizes.append(len(tokens) + len(eod))
    size_arr = np.asarray(sizes, dtype="<i4")
    pointers = np.zeros(len(sizes), dtype="<i8")
    if len(sizes) > 1:
        pointers[1:] = np.cumsum(size_arr[:-1], dtype=np.int64) * dtype.itemsize
    with open(prefix + ".idx", "wb") as idx:
        idx.write(MAGIC)
        idx.write(struct.pack("<Q", VERSION))
        idx.write(struct.pack("<B", DTYPE_CODES[dtype]))
        idx.write(struct.pack("<Q", len(sizes)))
        idx.write(struct.pack("<Q", len(sizes) + 1))
        idx.write(size_arr.tobytes())
        idx.write(pointers.tobytes())
        idx.write(np.arange(len(sizes) + 1, dtype="<i8").tobytes())
    return len(sizes)


def read_indexed(prefix: str) -> list[np.ndarray]:
    """The sequences of a Megatron indexed dataset, read by the layout above (for checks)."""
    with open(prefix + ".idx", "rb") as f:
        data = f.read()
    if data[:9] != MAGIC:
        raise ValueError(f"{prefix}.idx: not a Megatron index (magic {data[:9]!r})")
    version, = struct.unpack_from("<Q", data, 9)
    code, = struct.unpack_from("<B", data, 17)
    count, doc_count = struct.unpack_from("<QQ", data, 18)
    if version != VERSION:
        raise ValueError(f"{prefix}.idx: version {version}, expected {VERSION}")
    dtype = next(d for d, c in DTYPE_CODES.items() if c == code).newbyteorder("<")
    at = 34
    sizes = np.frombuffer(data, dtype="<i4", count=count, offset=at)
    pointers = np.frombuffer(data, dtype="<i8", count=count, offset=at + 4 * count)
    docs = np.frombuffer(data, dtype="<i8", count=doc_count, offset=at + 12 * count)
    if docs[-1] != count:
        raise ValueError(f"{prefix}.idx: document indices do not end at {count}")
    if not count or not sizes.sum():
        return [np.zeros(0, dtype=dtype) for _ in range(count)]
    tokens = np.memmap(prefix + ".bin", dtype=dtype, mode="r")
    return [np.asarray(tokens[p // dtype.itemsize:p // dtype.itemsize + s])
            for p, s in zip(pointers, sizes)]
