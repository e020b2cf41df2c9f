"""The unit of reading: one file, or one part of a big file, read by one worker.

Listing yields units (a pipeline step, so a huge listing stays in a PCollection); a
``Reshuffle`` spreads them over workers; each is read on its own. A big splittable file
(uncompressed JSONL, parquet) becomes several units with ``part`` ranges, so many workers
share it.

File names are carried safely: a name that is not valid UTF-8 cannot travel through Beam's
string coders (nor into a JSON shard), so ``path`` holds a printable form with the bad
bytes escaped as ``\\xNN`` and ``raw`` the name's real bytes, which is what gets opened.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True, slots=True)
class Unit:
    """One piece of an input.

    Attributes:
        path: where it is: a path relative to the input's URL (``folder``, ``git``), or a
            full URL (file formats); printable UTF-8 always (see ``printable_name``).
        raw: the OS-level bytes of ``path`` when they are not valid UTF-8, else empty.
        start: first byte (``jsonl``) or first row group (``parquet``) of this part.
        stop: end (exclusive) of this part in the same unit; 0 means "to the end".
        repo: for inputs with many repositories, the repository this unit belongs to.
    """

    path: str
    raw: bytes = b""
    start: int = 0
    stop: int = 0
    repo: str = ""

    @property
    def location(self) -> str:
        """How the drop log names this unit: the path, plus the part when split."""
        return f"{self.path}@{self.start}-{self.stop}" if self.stop else self.path

    def os_path(self, root: str) -> str | bytes:
        """The local path to open: ``root/path``, as bytes when the name was escaped."""
        if self.raw:
            return os.path.join(os.fsencode(root), self.raw)
        return os.path.join(root, self.path)


def printable_name(name: str | bytes) -> tuple[str, bytes]:
    """``(printable, raw)`` for a file name from the OS.

    Args:
        name: a name as ``os`` returns it: ``str`` (undecodable bytes arrive as lone
            surrogates under Python's ``surrogateescape``) or ``bytes``.

    Returns:
        The name as valid UTF-8 text with undecodable bytes written ``\\xNN``, and the
        original bytes when escaping was needed (empty otherwise).
    """
    data = os.fsencode(name) if isinstance(name, str) else name
    try:
        return data.decode("utf-8"), b""
    except UnicodeDecodeError:
        return data.decode("utf-8", "backslashreplace"), data
