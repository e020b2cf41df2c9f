"""The shard file: one component's documents as token arrays, boundaries and metadata.

A shard is one self-describing file, so it can be hashed, moved and named by the manifest
as a unit, memory-mapped locally for random access, or streamed from any fsspec URL:

```
offset 0   MAGIC (8 bytes) + zero padding to 64 bytes
offset 64  tokens        dtype[T]        all documents' tokens, back to back (little-endian)
           (pad to 8)
           offsets       int64[N + 1]    document i is tokens[offsets[i]:offsets[i + 1]]
           meta_offsets  int64[N + 1]    document i's metadata is meta[meta_offsets[i]:...]
           meta          bytes           one compact JSON object per document (UTF-8)
           footer        JSON            version, dtype, counts, section positions
end - 16   footer length (uint64 little-endian), then MAGIC again
```

The footer sits at the end (as in Parquet) so the writer streams tokens without knowing the
totals in advance and holds only per-document offsets and metadata in memory. With
``compress=True`` the whole file is one zstd frame and the name ends in ``.zst``: smaller at
rest, read fully into memory when opened (no memory map).

Files are written under a temporary name and renamed into place; a shard is final only once
a manifest names it (see ``shards.manifest``). This module imports neither Beam nor torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import struct
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import fsspec
import numpy as np

MAGIC = b"CMXSHARD"
FORMAT_VERSION = 1
_HEADER_BYTES = 64
_TRAILER = struct.Struct("<Q8s")
ZSTD_SUFFIX = ".zst"


class ShardError(ValueError):
    """A shard file is malformed, truncated or of an unknown version."""


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    """Smallest unsigned dtype that holds every id of a vocabulary of ``vocab_size`` tokens."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardInfo:
    """What the manifest records about one written shard.

    Attributes:
        path: URL or path the shard was written to.
        sha256: hex digest of the file's bytes as stored (after compression, if any).
        docs: number of documents in the shard.
        tokens: number of tokens over all its documents.
    """

    path: str
    sha256: str
    docs: int
    tokens: int


def _pad(n: int, align: int) -> int:
    return (-n) % align


def encode_shard(docs: Iterable[tuple[np.ndarray | list[int], Mapping[str, Any]]],
                 dtype: np.dtype | str) -> tuple[bytes, int, int]:
    """Serialise documents to the shard layout.

    Args:
        docs: ``(token_ids, metadata)`` pairs in the order they are to be stored. Metadata
            must be JSON-serialisable; it is written with sorted keys so equal input gives
            equal bytes.
        dtype: token dtype (``uint16`` or ``uint32``); ids must fit in it.

    Returns:
        The file's bytes, the number of documents and the number of tokens.
    """
    dtype = np.dtype(dtype).newbyteorder("<")
    if dtype.kind != "u":
        raise ValueError(f"token dtype must be unsigned, got {dtype}")
    limit = np.iinfo(dtype).max
    out = io.BytesIO()
    out.write(MAGIC + b"\0" * (_HEADER_BYTES - len(MAGIC)))
    offsets = [0]
    meta_chunks: list[bytes] = []
    meta_offsets = [0]
    for ids, meta in docs:
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise ValueError("token ids must be one-dimensional")
        if arr.size and (arr.min() < 0 or arr.max() > limit):
            raise ValueError(f"token id out of range for {dtype.name}")
        out.write(arr.astype(dtype, copy=False).tobytes())
        offsets.append(offsets[-1] + int(arr.size))
        blob = json.dumps(dict(meta), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")
        meta_chunks.append(blob)
        meta_offsets.append(meta_offsets[-1] + len(blob))
    out.write(b"\0" * _pad(out.tell(), 8))
    offsets_at = out.tell()
    out.write(np.asarray(offsets, dtype="<i8").tobytes())
    meta_offsets_at = out.tell()
    out.write(np.asarray(meta_offsets, dtype="<i8").tobytes())
    meta_at = out.tell()
    for blob in meta_chunks:
        out.write(blob)
    footer = json.dumps({
        "version": FORMAT_VERSION,
        "dtype": dtype.name,
        "docs": len(offsets) - 1,
        "tokens": offsets[-1],
        "tokens_at": _HEADER_BYTES,
        "offsets_at": offsets_at,
        "meta_offsets_at": meta_offsets_at,
        "meta_at": meta_at,
    }, sort_keys=True).encode("utf-8")
    out.write(footer)
    out.write(_TRAILER.pack(len(footer), MAGIC))
    return out.getvalue(), len(offsets) - 1, offsets[-1]


def write_bytes_atomic(url: str, data: bytes) -> None:
    """Write ``data`` to a temporary sibling of ``url``, then rename it into place.

    Readers never see a partial file; on object stores the rename is a copy and delete,
    which still exposes the final name only once it is complete."""
    fs, path = fsspec.core.url_to_fs(url)
    parent = os.path.dirname(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    with fs.open(tmp, "wb") as f:
        f.write(data)
    fs.mv(tmp, path)


def write_shard(url: str,
                docs: Iterable[tuple[np.ndarray | list[int], Mapping[str, Any]]],
                dtype: np.dtype | str,
                compress: bool = False) -> ShardInfo:
    """Write one shard atomically to ``url`` (any fsspec URL).

    Args:
        url: destination; with ``compress`` it must end in ``.zst``.
        docs: ``(token_ids, metadata)`` pairs, stored in this order.
        dtype: token dtype, see ``dtype_for_vocab``.
        compress: store the file as one zstd frame (level 3, single-threaded, so the
            bytes are the same on every machine).

    Returns:
        The shard's ``ShardInfo``.
    """
    data, n_docs, n_tokens = encode_shard(docs, dtype)
    if compress:
        if not url.endswith(ZSTD_SUFFIX):
            raise ValueError(f"a compressed shard's name must end in {ZSTD_SUFFIX}: {url}")
        import zstandard

        data = zstandard.ZstdCompressor(level=3, threads=0).compress(data)
    write_bytes_atomic(url, data)
    return ShardInfo(path=url, sha256=hashlib.sha256(data).hexdigest(), docs=n_docs,
                     tokens=n_tokens)


def file_sha256(url: str, chunk_bytes: int = 1 << 22) -> str:
    """Hex sha256 of a file at any fsspec URL, read in ``chunk_bytes`` pieces."""
    digest = hashlib.sha256()
    with fsspec.open(url, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


class Shard:
    """Random access to one shard's documents.

    Local uncompressed files are memory-mapped, so opening is cheap and only the pages a
    reader touches are read. Remote files are read by byte range through fsspec on demand.
    Compressed (``.zst``) files are decompressed into memory once.
    """

    def __init__(self, url: str):
        self.url = url
        fs, path = fsspec.core.url_to_fs(url)
        self._file = None
        if url.endswith(ZSTD_SUFFIX):
            import zstandard

            with fs.open(path, "rb") as f:
                raw = zstandard.ZstdDecompressor().stream_reader(f).read()
            self._buf: Any = np.frombuffer(raw, dtype=np.uint8)
        elif isinstance(fs, fsspec.implementations.local.LocalFileSystem):
            self._buf = np.memmap(path, dtype=np.uint8, mode="r")
        else:
            self._buf = None
            self._file = fs.open(path, "rb")
        size = len(self._buf) if self._buf is not None else self._file.size
        if size < _HEADER_BYTES + _TRAILER.size or self._read(0, len(MAGIC)) != MAGIC:
            raise ShardError(f"{url}: not a codemix shard (bad magic or truncated)")
        footer_len, magic = _TRAILER.unpack(self._read(size - _TRAILER.size, _TRAILER.size))
        if magic != MAGIC:
            raise ShardError(f"{url}: truncated shard (no trailer)")
        footer = json.loads(self._read(size - _TRAILER.size - footer_len, footer_len))
        if footer.get("version") != FORMAT_VERSION:
            raise ShardError(f"{url}: shard format version {footer.get('version')} "
                             f"is not supported (expected {FORMAT_VERSION})")
        self.dtype = np.dtype(footer["dtype"]).newbyteorder("<")
        self.num_docs: int = footer["docs"]
        self.num_tokens: int = footer["tokens"]
        self._tokens_at: int = footer["tokens_at"]
        self._meta_at: int = footer["meta_at"]
        n = self.num_docs + 1
        self.offsets = np.frombuffer(self._read(footer["offsets_at"], 8 * n), dtype="<i8")
        self._meta_offsets = np.frombuffer(self._read(footer["meta_offsets_at"], 8 * n),
                                           dtype="<i8")

    def _read(self, start: int, length: int) -> bytes:
        if self._buf is not None:
            return bytes(self._buf[start:start + length])
        self._file.seek(start)
        return self._file.read(length)

    def __len__(self) -> int:
        return self.num_docs

    def tokens(self, i: int) -> np.ndarray:
        """Token ids of document ``i`` (a read-only view when memory-mapped)."""
        if not 0 <= i < self.num_docs:
            raise IndexError(f"document {i} out of range [0, {self.num_docs})")
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        start = self._tokens_at + lo * self.dtype.itemsize
        nbytes = (hi - lo) * self.dtype.itemsize
        if self._buf is not None:
            return self._buf[start:start + nbytes].view(self.dtype)
        return np.frombuffer(self._read(start, nbytes), dtype=self.dtype)

    def all_tokens(self) -> np.ndarray:
        """Every document's tokens back to back, ``offsets`` gives the boundaries."""
        nbytes = self.num_tokens * self.dtype.itemsize
        if self._buf is not None:
            return self._buf[self._tokens_at:self._tokens_at + nbytes].view(self.dtype)
        return np.frombuffer(self._read(self._tokens_at, nbytes), dtype=self.dtype)

    def meta(self, i: int) -> dict[str, Any]:
        """Metadata of document ``i`` as written."""
        if not 0 <= i < self.num_docs:
            raise IndexError(f"document {i} out of range [0, {self.num_docs})")
        lo, hi = int(self._meta_offsets[i]), int(self._meta_offsets[i + 1])
        return json.loads(self._read(self._meta_at + lo, hi - lo))

    def metas(self) -> Iterator[dict[str, Any]]:
        """Every document's metadata in order, from one read of the metadata section (one
        ranged read for a remote shard instead of one per document)."""
        block = self._read(self._meta_at, int(self._meta_offsets[-1]))
        bounds = self._meta_offsets.tolist()
        for lo, hi in zip(bounds, bounds[1:]):
            yield json.loads(block[lo:hi])

    def __iter__(self) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
        for i in range(self.num_docs):
            yield self.tokens(i), self.meta(i)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._buf = None

    def __enter__(self) -> "Shard":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
