"""JSON Lines documents, plain or compressed (``.gz``, ``.bz2``, ``.xz``, ``.zst``/``.zstd``).

``url`` is a file or a glob of files. Each line is one document whose text is the
``text_field`` of a JSON object; the other fields map onto the record as
``pipelines.sources.fields`` says. A line's location is ``url@offset`` (its first byte in
the decompressed stream), which names its drops and is part of its record id.

An uncompressed file larger than ``split_bytes`` is read as several byte ranges, so many
workers share it. A line belongs to the range its first byte lies in: a reader seeks to
the byte before its range and skips to the end of that line, and stops at the first line
starting at or after its end, so every line is read exactly once whatever the split.
Compressed streams cannot be entered in the middle: each such file is one unit.

Lines are read as bytes in chunks, never decoded as a whole: a line that is not UTF-8 or
not JSON is one ``bad_json`` drop, a line longer than ``max_bytes`` one ``too_large``
drop (skipped without being held), and neither costs the rest of the file. A compressed
stream that is cut short keeps the documents before the cut and adds one ``truncated``
drop; data that is not the compression its name says is one ``unreadable`` drop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record
from pipelines.sources.compression import STREAM_ERRORS, compression_of, open_decompressed
from pipelines.sources.fields import row_record
from pipelines.sources.files import matching_files, open_file
from pipelines.sources.reading import NotRegularFile
from pipelines.sources.unit import Unit

CHUNK = 1 << 20

def list_units(spec: InputSpec, comp: ComponentSpec) -> Iterator[Unit | Drop]:
    """The files ``spec.url`` names: a compressed or small file is one unit, an
    uncompressed one larger than ``spec.split_bytes`` one unit per byte range
    ``[start, stop)`` of about that size."""
    for found in matching_files(spec, comp):
        if isinstance(found, Drop):
            yield found
            continue
        unit, size = found
        if compression_of(unit.path) or size <= spec.split_bytes:
            yield unit
            continue
        for start in range(0, size, spec.split_bytes):
            yield Unit(path=unit.path, raw=unit.raw, start=start,
                       stop=min(start + spec.split_bytes, size))


def lines(read: Callable[[int], bytes],
          max_bytes: int) -> Iterator[tuple[int, bytes | None, int]]:
    """The lines of a binary stream, read in chunks.

    Args:
        read: reads up to the given number of bytes from the stream, empty at its end.
        max_bytes: a longer line is not kept: its bytes are dropped as they are read.

    Yields:
        ``(offset, content, length)`` per line: the offset of its first byte from where
        reading began, its bytes without the newline (None when longer than
        ``max_bytes``), and that length in bytes.
    """
    offset, length, parts = 0, 0, []
    while chunk := read(CHUNK):
        pos = 0
        while True:
            newline = chunk.find(b"\n", pos)
            end = len(chunk) if newline < 0 else newline
            length += end - pos
            if length <= max_bytes:
                parts.append(chunk[pos:end])
            else:
                parts = []
            if newline < 0:
                break
            yield offset, (b"".join(parts) if length <= max_bytes else None), length
            offset += length + 1
            length, parts = 0, []
            pos = newline + 1
    if length:
        yield offset, (b"".join(parts) if length <= max_bytes else None), length


def parse_line(content: bytes, *, spec: InputSpec, comp: ComponentSpec,
               location: str) -> Record | Drop:
    """One line's bytes as a record, or the ``read`` drop saying why it cannot be one
    (``bad_json``: not UTF-8, not JSON, or not an object; else see ``row_record``)."""
    try:
        obj = json.loads(content.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as err:
        return Drop(comp.name, "read", "bad_json", location, spec.label, len(content),
                    f"not UTF-8: {err.reason} at byte {err.start}")
    except (ValueError, RecursionError) as err:  # JSONDecodeError, too deep, huge number
        return Drop(comp.name, "read", "bad_json", location, spec.label, len(content),
                    str(err)[:200])
    if not isinstance(obj, dict):
        return Drop(comp.name, "read", "bad_json", location, spec.label, len(content),
                    f"a JSON {type(obj).__name__}, not an object")
    return row_record(obj, spec=spec, comp=comp, location=location)


def read_unit(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop]:
    """The documents of one file or byte range, one record or drop per non-blank line,
    plus one drop for the file when it cannot be opened (``unreadable``,
    ``not_regular_file``) or its stream breaks off (``truncated``, ``unreadable``)."""
    compression = compression_of(unit.path)
    base = max(unit.start - 1, 0)
    done = base  # the stream's bytes before this offset have been read as lines
    try:
        with open_file(unit) as raw:
            if unit.start:
                raw.seek(base)
            stream = open_decompressed(raw, compression)
            # read1 returns what has been decompressed so far, where read would wait for a
            # whole chunk: a stream cut short then still gives the lines before the cut.
            found = lines(stream.read1 if compression else stream.read, spec.max_bytes)
            if unit.start:
                next(found, None)  # the end of the line that began before this range
            for relative, content, length in found:
                offset = base + relative
                if unit.stop and offset >= unit.stop:
                    return
                done = offset + length + 1
                location = f"{unit.path}@{offset}"
                if content is None:
                    yield Drop(comp.name, "read", "too_large", location, spec.label, length)
                elif content.strip():
                    yield parse_line(content, spec=spec, comp=comp, location=location)
    except NotRegularFile as err:
        yield Drop(comp.name, "read", "not_regular_file", unit.location, spec.label, 0,
                   str(err))
    except EOFError as err:
        yield Drop(comp.name, "read", "truncated", unit.location, spec.label, 0,
                   f"{compression} stream cut short after byte {done}: {err}")
    except STREAM_ERRORS as err:
        yield Drop(comp.name, "read", "unreadable", unit.location, spec.label, 0,
                   f"{err} (lines before byte {done} were read)" if done > base else str(err))
