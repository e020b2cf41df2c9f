"""Token ranges in a document's shard metadata: the contract between build and trainer.

A document's metadata may hold, under the keys below, a list of ``[start, end)`` token
offsets into the document, sorted, disjoint and non-empty (``pipelines.spans`` writes them):

- ``spans``: its top-level definitions (functions and classes), for objectives that place
  infill and corruption spans on syntax boundaries;
- ``no_loss``: tokens the trainer must not predict (a license header, redaction
  placeholders).

A document without ranges of a kind has no key, which keeps the metadata of text and of most
small files as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SPANS = "spans"
NO_LOSS = "no_loss"
RANGE_KEYS = (SPANS, NO_LOSS)


def ranges_of(meta: Mapping[str, Any], key: str) -> list[tuple[int, int]]:
    """The ranges stored under ``key`` (empty when there are none)."""
    return [(int(a), int(b)) for a, b in meta.get(key, ())]


def range_fault(meta: Mapping[str, Any], length: int) -> str | None:
    """What is wrong with a document's ranges, or None: each must be a sorted list of
    disjoint, non-empty ``[start, end)`` pairs inside ``[0, length]``."""
    for key in RANGE_KEYS:
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) for x in r)
                for r in value):
            return f"{key} is not a list of [start, end) pairs"
        end = 0
        for a, b in value:
            if not end <= a < b <= length:
                return (f"{key} range [{a}, {b}) is empty, out of order or outside the "
                        f"document's {length} tokens")
            end = b
    return None
