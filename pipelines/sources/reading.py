"""Reads that cannot hang and cannot exhaust memory.

A read is capped in size (one byte past the cap proves the file is too large, without
reading the rest) and in time: it runs in a daemon thread that is abandoned after the
timeout, so a file that blocks (a stalled network mount) costs one ``read_timeout`` drop,
never the build. Local files are opened with ``open_regular``, which never blocks on a
FIFO, socket or device that took a listed file's place: it opens without waiting
(``O_NONBLOCK``) and refuses whatever ``fstat`` says is not a regular file.
"""

from __future__ import annotations

import os
import queue
import stat
import threading
from collections.abc import Callable
from typing import BinaryIO

CHUNK = 1 << 20


class NotRegularFile(OSError):
    """What was opened is not a regular file (a FIFO, socket or device)."""


def open_regular(path: str | bytes) -> BinaryIO:
    """Open a local regular file for binary reading, without ever blocking in ``open``.

    Listing already drops FIFOs and devices; this closes the race where a file is replaced
    by one between listing and reading. Opening a FIFO for reading normally waits for a
    writer; with ``O_NONBLOCK`` it returns at once, and the ``fstat`` check refuses it.

    Args:
        path: the file (``bytes`` for a name that is not valid UTF-8).

    Raises:
        NotRegularFile: the path is a FIFO, socket, device or folder.
        OSError: it cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"not a regular file (mode {stat.filemode(mode)})")
        os.set_blocking(fd, True)  # a regular file ignores the flag; do not carry it on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(stream: BinaryIO, max_bytes: int) -> bytes | None:
    """Up to ``max_bytes`` of ``stream``; None when it holds more (nothing past the cap
    plus one byte is read)."""
    parts, total = [], 0
    while True:
        chunk = stream.read(min(CHUNK, max_bytes + 1 - total))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            return None


def read_bounded(open_stream: Callable[[], BinaryIO], max_bytes: int,
                 timeout_s: float) -> bytes | str:
    """The bytes of a file, or a drop reason.

    Args:
        open_stream: opens the file for binary reading (called in the reading thread, as
            opening can block too).
        max_bytes: larger files give ``too_large``.
        timeout_s: a read not finished by then gives ``read_timeout``; its thread is left
            to finish or block on its own (daemon: it never keeps the process alive).

    Returns:
        The content, or ``too_large``, ``read_timeout``, ``not_regular_file`` (raised by
        ``open_regular``) or ``unreadable`` (any other ``OSError``).

    Raises:
        Whatever else the read raised: that is a bug, not bad input, so it is raised here
        rather than lost in the thread (where it would look like a timeout).
    """
    result: queue.Queue = queue.Queue(maxsize=1)

    def work() -> None:
        try:
            with open_stream() as stream:
                data = read_capped(stream, max_bytes)
            result.put("too_large" if data is None else data)
        except NotRegularFile:
            result.put("not_regular_file")
        except (OSError, ValueError):
            result.put("unreadable")
        except BaseException as err:  # noqa: BLE001 - handed to the caller, raised there
            result.put(err)

    threading.Thread(target=work, daemon=True, name="codemix-read").start()
    try:
        out = result.get(timeout=timeout_s)
    except queue.Empty:
        return "read_timeout"
    if isinstance(out, BaseException):
        raise out
    return out
