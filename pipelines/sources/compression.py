"""Decompressing streams that notice when they were cut short.

gzip, bz2 and xz readers raise ``EOFError`` at a truncated end by themselves; the zstd
stream reader does not: it returns end-of-file as soon as its input ends, even in the middle
of a frame, so a cut ``.zst`` would silently lose every document after the cut. Here zstd
input goes through a decompression object whose ``eof`` flag says whether the frame ended
properly; a stream that stops inside a frame raises ``TruncatedStream`` (an ``EOFError``,
like the others) after everything before the cut has been returned.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

CHUNK = 1 << 20

EXTENSIONS = {".gz": "gzip", ".tgz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd",
              ".zstd": "zstd", ".tzst": "zstd"}
"""File name suffix -> compression."""


class TruncatedStream(EOFError):
    """The compressed stream ended inside a frame: the data after the cut is lost."""


def compression_of(name: str) -> str | None:
    """The compression a file name's suffix says (``gzip``, ``bz2``, ``xz``, ``zstd``), or
    None for a plain file."""
    lower = name.lower()
    return next((c for ext, c in EXTENSIONS.items() if lower.endswith(ext)), None)


def _zstd_chunks(raw: BinaryIO) -> Iterator[bytes]:
    """Decompressed chunks of a zstd stream of one or more frames; raises
    ``TruncatedStream`` when the input ends inside a frame."""
    pending = b""
    while True:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        data = pending
        pending = b""
        started = False
        while not dobj.eof:
            if not data:
                data = raw.read(CHUNK)
                if not data:
                    if started:
                        raise TruncatedStream("zstd stream ends inside a frame")
                    return
            started = True
            out = dobj.decompress(data)
            data = b""
            if out:
                yield out
        pending = dobj.unused_data
        if not pending:
            pending = raw.read(CHUNK)
            if not pending:
                return


class _ChunkReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def open_decompressed(raw: BinaryIO, compression: str | None) -> BinaryIO:
    """A binary stream of the decompressed bytes of ``raw``.

    Args:
        raw: the compressed file, opened for binary reading.
        compression: ``gzip``, ``bz2``, ``xz``, ``zstd``, or None (``raw`` itself).

    Returns:
        A stream whose reads raise ``EOFError`` (``TruncatedStream`` for zstd) when the
        compressed data stops before its end marker, after returning what came before.
    """
    if compression is None:
        return raw
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.BZ2File(raw, "rb")  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(raw, "rb")  # type: ignore[return-value]
    if compression == "zstd":
        return io.BufferedReader(_ChunkReader(_zstd_chunks(raw)), CHUNK)  # type: ignore[return-value]
    raise ValueError(f"unknown compression {compression!r}")


STREAM_ERRORS = (OSError, EOFError, ValueError, zlib.error, zstandard.ZstdError,
                 lzma.LZMAError)
"""What a damaged compressed stream can raise while being read (gzip's ``BadGzipFile`` is
an ``OSError``, a corrupt deflate block ``zlib.error``; bz2 raises ``OSError``/``EOFError``;
zstd ``ZstdError``)."""
