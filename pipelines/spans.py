"""Token ranges carried in shard metadata: syntax units, and ranges that take no loss.

Two kinds of range travel with a document from the parse stage to the shards:

- ``spans``: its top-level definitions (functions and classes not nested in another), which
  the trainer can use to place infill and corruption spans on syntax boundaries;
- ``no_loss``: ranges the trainer must not predict, chosen per component with
  ``loss_mask``: ``license_header`` (a leading comment block that reads like a license) and
  ``pii`` (the placeholders the redaction stage left, so a model does not learn to emit
  ``<EMAIL>``).

Stages before tokenization know ranges in characters; the shards need them in tokens. The
text is cut at every range end and the pieces are encoded one by one, so each boundary is a
token boundary by construction, for any tokenizer, and the concatenated ids still decode to
the text exactly. Definitions and headers are whole lines, and the codemix split pattern
already splits at line starts, so those cuts leave the ids as the whole text would give them;
a placeholder cut may split a punctuation run (``'<EMAIL>'``) into two tokens.

Shard metadata keeps ``spans`` and ``no_loss`` as lists of ``[start, end)`` token offsets
into the document, sorted and disjoint (the contract is ``shards.ranges``); a document with
none has no key.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

import numpy as np

from pipelines.parse import ParseResult
from pipelines.records import Record
from shards.ranges import NO_LOSS, SPANS
from pipelines.pii import PLACEHOLDERS

SYNTAX_KEY = "syntax_chars"
"""``Record.meta`` key of the top-level definitions, as ``[start, end)`` characters."""

NO_LOSS_KEY = "no_loss_chars"
"""``Record.meta`` key of the ranges without loss found at parse time, in characters."""

Range = tuple[int, int]


def line_starts(text: str) -> list[int]:
    """Character offset where each line begins (index 0 is line 1); lines end at ``\\n``,
    as tree-sitter counts rows."""
    # One code point per 4 bytes: numpy finds the newlines at C speed (2.5x a find loop).
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return [0, *(np.flatnonzero(codes == 10) + 1).tolist()]


def line_range(text: str, starts: Sequence[int], first: int, last: int) -> Range:
    """Characters of lines ``first..last`` (1-based, inclusive), without the last line's
    line break: line breaks run together into one token piece (``"\n\n"``), so a range that
    ended inside such a run would change the ids of the text around it."""
    end = starts[last] if last < len(starts) else len(text)
    while end > starts[first - 1] and text[end - 1] in "\r\n":
        end -= 1
    return starts[first - 1], end


def top_level(result: ParseResult) -> list[tuple[int, int]]:
    """1-based inclusive line spans of the definitions not inside another one, in order."""
    spans = sorted((s.start_line, -s.end_line) for s in (*result.functions, *result.classes))
    out: list[tuple[int, int]] = []
    for start, neg_end in spans:
        if out and start <= out[-1][1]:
            continue  # nested in (or overlapping) the previous top-level definition
        out.append((start, -neg_end))
    return out


def parse_ranges(text: str, result: ParseResult, loss_mask: Iterable[str]) -> dict[str, list]:
    """The ``Record.meta`` entries the parse stage adds: definitions and, when asked for, the
    license header, as character ranges; empty lists are left out."""
    starts = line_starts(text)
    out: dict[str, list] = {}
    syntax = [list(line_range(text, starts, a, b)) for a, b in top_level(result)]
    if syntax:
        out[SYNTAX_KEY] = syntax
    if "license_header" in loss_mask and result.header_lines:
        out[NO_LOSS_KEY] = [list(line_range(text, starts, 1, result.header_lines))]
    return out


def placeholder_ranges(text: str) -> list[Range]:
    """Where the redaction placeholders (``<EMAIL>``, ...) occur in ``text``.

    A literal ``<EMAIL>`` the author wrote is indistinguishable from one the redaction left,
    and takes no loss either.
    """
    found = []
    for placeholder in set(PLACEHOLDERS.values()):
        pos = text.find(placeholder)
        while pos >= 0:
            found.append((pos, pos + len(placeholder)))
            pos = text.find(placeholder, pos + len(placeholder))
    return sorted(found)


def document_ranges(record: Record, loss_mask: Iterable[str]) -> dict[str, list[Range]]:
    """Character ranges to carry into the shard: ``spans`` (top-level definitions, from the
    parse stage) and ``no_loss`` (the parse stage's license header, plus the redaction
    placeholders when ``loss_mask`` names ``pii``), each normalized; empty ones left out."""
    no_loss = list(record.meta.get(NO_LOSS_KEY, ()))
    if "pii" in loss_mask:
        no_loss += placeholder_ranges(record.text)
    ranges = {SPANS: normalize(record.meta.get(SYNTAX_KEY, ()), len(record.text)),
              NO_LOSS: normalize(no_loss, len(record.text))}
    return {name: rs for name, rs in ranges.items() if rs}


def normalize(ranges: Iterable[Sequence[int]], length: int) -> list[Range]:
    """Sorted, disjoint, non-empty ranges clipped to ``[0, length)``; overlapping ones merge,
    touching ones stay apart (two definitions in a row are two spans)."""
    out: list[Range] = []
    for start, end in sorted((max(0, int(a)), min(length, int(b))) for a, b in ranges):
        if end <= start:
            continue
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def cut(text: str, ranges: dict[str, list[Range]]) -> list[str]:
    """``text`` cut at every range boundary: pieces whose concatenation is ``text``."""
    points = sorted({p for rs in ranges.values() for r in rs for p in r} - {0, len(text)})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def assemble(pieces: list[str], encoded: list[np.ndarray], ranges: dict[str, list[Range]]
             ) -> tuple[np.ndarray, dict[str, list[list[int]]]]:
    """The ids of ``pieces`` (``cut``'s output, already encoded) and the token ranges."""
    char_bounds = [0]
    token_bounds = [0]
    for piece, ids in zip(pieces, encoded):
        char_bounds.append(char_bounds[-1] + len(piece))
        token_bounds.append(token_bounds[-1] + len(ids))
    ids = np.concatenate(encoded) if encoded else np.zeros(0, dtype=np.uint32)
    out = {}
    for name, rs in ranges.items():
        tokens = []
        for start, end in rs:
            a = token_bounds[bisect.bisect_left(char_bounds, start)]
            b = token_bounds[bisect.bisect_left(char_bounds, end)]
            if b > a:
                tokens.append([a, b])
        if tokens:
            out[name] = tokens
    return ids, out
