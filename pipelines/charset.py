"""Bytes to text: binary detection and the policy for documents that are not UTF-8.

Every source turns a file's bytes into text here, so the rules are the same whatever the
input format. Binary content is recognised by a NUL byte or by a high share of control
characters in the head (what git and GitHub's linguist look at); UTF-16 is recognised by
its byte-order mark only, since guessing it from NUL patterns misfires on binaries. Text
that is not UTF-8 follows ``CleanSpec.non_utf8``: dropped (the default, as The Stack),
transcoded from the first listed encoding that fits, or decoded with U+FFFD replacements;
either change is recorded in the record's ``meta["edits"]`` so the build counts it.
"""

from __future__ import annotations

import codecs
import dataclasses

from pipelines.config import CleanSpec

_HEAD = 8192
_CONTROL = bytes(sorted(set(range(32)) - {9, 10, 11, 12, 13, 27}))
_MAX_CONTROL_SHARE = 0.3
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclasses.dataclass(frozen=True, slots=True)
class Decoded:
    """A document's text and what decoding changed.

    Attributes:
        text: the text, without a leading byte-order mark.
        edit: ``""`` for clean UTF-8, ``transcoded`` (from another encoding) or
            ``replaced`` (bad bytes became U+FFFD).
    """

    text: str
    edit: str = ""


def is_binary(data: bytes) -> bool:
    """True for content that is not text: a NUL byte, or a head that is mostly control
    characters."""
    if b"\0" in data:
        return True
    head = data[:_HEAD]
    if not head:
        return False
    control = len(head) - len(head.translate(None, _CONTROL))  # counted at C speed
    return control / len(head) > _MAX_CONTROL_SHARE


def decode(data: bytes, spec: CleanSpec) -> Decoded | str:
    """A document's bytes as text, or the drop reason (``binary``, ``not_utf8``).

    Args:
        data: the raw bytes.
        spec: the component's cleaning rules: ``binary`` (detect binary at all),
            ``non_utf8`` and ``encodings`` (what to do with text that is not UTF-8).
    """
    if (spec.non_utf8 == "decode" and data.startswith(_UTF16_BOMS)
            and any(_is_utf16(e) for e in spec.encodings)):
        try:
            return Decoded(data.decode("utf-16").removeprefix("\ufeff"), "transcoded")
        except UnicodeDecodeError:
            pass
    if spec.binary and is_binary(data):
        return "binary"
    try:
        return Decoded(data.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError:
        pass
    if spec.non_utf8 == "replace":
        return Decoded(data.decode("utf-8", "replace").removeprefix("\ufeff"), "replaced")
    if spec.non_utf8 == "decode":
        for encoding in spec.encodings:
            if _is_utf16(encoding):
                continue  # by BOM only, above
            try:
                return Decoded(data.decode(encoding), "transcoded")
            except (UnicodeDecodeError, LookupError):
                continue
    return "not_utf8"


def _is_utf16(encoding: str) -> bool:
    """True for any spelling of UTF-16 (``utf-16``, ``UTF16``, ``utf_16``)."""
    try:
        return codecs.lookup(encoding).name == "utf-16"
    except LookupError:
        return False
