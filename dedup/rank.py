"""Which document of a duplicate cluster to keep: a total order, the same on every runner.

Order, most important first:

1. license tier: a permissive license (MIT, Apache-2.0, BSD-*, ISC, ...) beats another
   known license, which beats none; a copy we may redistribute freely is the one to keep.
   Which licenses are permissive is decided in one place, ``pipelines/licenses.py``; this
   module only orders the tiers.
2. stars: more beats fewer; the better-known repository is more likely the original.
3. recency: newer beats older; it usually carries the fixes. An ISO 8601 date or datetime
   (naive means UTC) or a Unix timestamp in whole seconds; empty is oldest.
4. id: the smaller id, so that ties are broken the same way everywhere.

``rank_key`` encodes this as a tuple whose minimum is the keeper, so a cluster's keeper is
``min(docs, key=...)``, and Beam can combine with ``min`` in any order. ``rank_bytes`` packs
the same key into bytes that sort alike (fixed-width fields, then the id): compact enough to
travel once per LSH band through a shuffle.
"""

from __future__ import annotations

import datetime

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

PERMISSIVE_TIER, OTHER_LICENSE_TIER, NO_LICENSE_TIER = 0, 1, 2
"""License tiers, best first."""


def _microseconds(recency: str) -> int:
    """Microseconds since the Unix epoch of an ISO 8601 date/datetime or Unix seconds."""
    if recency.isascii() and recency.isdigit():
        return int(recency) * 1_000_000
    try:
        moment = datetime.datetime.fromisoformat(recency)
    except ValueError:
        raise ValueError(f"recency must be an ISO 8601 date or Unix seconds, got {recency!r}") \
            from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return (moment - _EPOCH) // datetime.timedelta(microseconds=1)


def rank_key(*, license_tier: int, stars: int, recency: str,
             id: str) -> tuple[int, int, int, int, str]:
    """Sort key of a duplicate: the document with the smallest key is kept.

    Args:
        license_tier: ``PERMISSIVE_TIER``, ``OTHER_LICENSE_TIER`` or ``NO_LICENSE_TIER``.
        stars: the repository's stars (0 when unknown); must be non-negative.
        recency: ISO 8601 date or datetime (``2024-05-01``, ``2024-05-01T12:00:00Z``;
            without a zone it is UTC) or Unix seconds as digits; empty when unknown.
        id: the record id; the final tie-break.

    Returns:
        ``(license tier, -stars, 1 if recency is empty else 0, -microseconds since epoch,
        id)``: compare keys, never their parts, as the layout may change.

    Raises:
        ValueError: ``stars`` is negative or ``recency`` cannot be parsed.
    """
    if stars < 0:
        raise ValueError(f"stars must be non-negative, got {stars}")
    if license_tier not in (PERMISSIVE_TIER, OTHER_LICENSE_TIER, NO_LICENSE_TIER):
        raise ValueError(f"unknown license tier {license_tier}")
    if recency:
        undated, newest_first = 0, -_microseconds(recency)
    else:
        undated, newest_first = 1, 0
    return (license_tier, -stars, undated, newest_first, id)


RANK_PREFIX_BYTES = 32
"""Bytes before the id in ``rank_bytes``: four 8-byte fields."""


def rank_bytes(key: tuple[int, int, int, int, str]) -> bytes:
    """A ``rank_key`` as bytes that sort exactly as the tuples do.

    Each integer field is offset by ``2**63`` and packed big-endian in 8 bytes, so byte
    order is numeric order; the id follows (UTF-8), so ``rank_bytes(k)[RANK_PREFIX_BYTES:]``
    gives it back.
    """
    *numbers, doc_id = key
    return b"".join((n + 2**63).to_bytes(8, "big") for n in numbers) + doc_id.encode()
