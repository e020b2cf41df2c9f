"""dedup.rank: the keeper is min(rank_key): license > stars > recency > id."""

from __future__ import annotations

import pytest

from dedup.rank import (NO_LICENSE_TIER, OTHER_LICENSE_TIER, PERMISSIVE_TIER,
                        RANK_PREFIX_BYTES, rank_bytes, rank_key)

TIERS = {"MIT": PERMISSIVE_TIER, "ISC": PERMISSIVE_TIER, "GPL-3.0": OTHER_LICENSE_TIER,
         "GPL-3.0-only": OTHER_LICENSE_TIER, "": NO_LICENSE_TIER}
"""Tiers as ``pipelines.licenses.license_tier`` gives them (tested there)."""


def key(license: str = "", stars: int = 0, recency: str = "", id: str = "x") -> tuple:
    return rank_key(license_tier=TIERS[license], stars=stars, recency=recency, id=id)


def keeper(docs: dict[str, dict]) -> str:
    """The id of the document kept among ``docs`` (id -> rank_key arguments but id)."""
    return min(docs, key=lambda i: key(id=i, **docs[i]))


def test_permissive_beats_other_known_beats_none_whatever_the_stars():
    docs = {"gpl": {"license": "GPL-3.0-only", "stars": 10_000},
            "mit": {"license": "MIT", "stars": 1},
            "none": {"license": "", "stars": 50_000}}
    assert keeper(docs) == "mit"
    del docs["mit"]
    assert keeper(docs) == "gpl"


def test_more_stars_win_within_a_license_tier():
    assert keeper({"a": {"license": "MIT", "stars": 3}, "b": {"license": "ISC", "stars": 9}}) == "b"


def test_newer_wins_and_undated_is_oldest():
    docs = {"old": {"recency": "2019-01-01"}, "new": {"recency": "2024-06-30T12:00:00Z"},
            "undated": {"recency": ""}}
    assert keeper(docs) == "new"
    del docs["new"]
    assert keeper(docs) == "old"
    assert key(recency="1970-01-01") < key(recency="")


def test_recency_forms_compare_by_instant():
    assert key(recency="2024-01-01T00:00:00+00:00") == key(recency="2024-01-01")
    # 01:00 at +02:00 is 23:00 UTC the day before: older, so it loses.
    assert key(recency="2024-01-01") < key(recency="2024-01-01T01:00:00+02:00")
    assert key(recency="1704067200") == key(recency="2024-01-01T00:00:00Z")


def test_smaller_id_breaks_ties():
    assert keeper({"b": {}, "a": {}, "c": {}}) == "a"


def test_stars_beat_recency_and_recency_beats_id():
    assert keeper({"a": {"stars": 1, "recency": "2020-01-01"},
                   "b": {"stars": 2, "recency": "2010-01-01"}}) == "b"
    assert keeper({"a": {"recency": "2010-01-01"}, "b": {"recency": "2020-01-01"}}) == "b"


def test_keeper_does_not_depend_on_order():
    docs = {f"id{i}": {"license": lic, "stars": s, "recency": r}
            for i, (lic, s, r) in enumerate([("MIT", 5, "2020-01-01"), ("", 99, "2024-01-01"),
                                             ("MIT", 5, "2021-01-01"), ("GPL-3.0", 50, "")])}
    keys = [key(id=i, **d) for i, d in docs.items()]
    assert min(keys) == min(reversed(keys)) == key(id="id2", **docs["id2"])


def test_bad_values_are_rejected():
    with pytest.raises(ValueError, match="recency"):
        key(recency="last tuesday")
    with pytest.raises(ValueError, match="stars"):
        key(stars=-1)
    with pytest.raises(ValueError, match="tier"):
        rank_key(license_tier=7, stars=0, recency="", id="a")


def test_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        rank_key("MIT", 1, "", "a")  # type: ignore[misc]


def test_rank_bytes_sort_like_the_keys_and_end_with_the_id():
    keys = [rank_key(license_tier=TIERS[lic], stars=stars, recency=recency, id=doc_id)
            for lic in ("MIT", "GPL-3.0", "") for stars in (0, 5, 10**6)
            for recency in ("", "2020-01-01", "1969-07-20") for doc_id in ("a", "b0")]
    assert sorted(keys) == sorted(keys, key=rank_bytes)
    assert all(rank_bytes(k)[RANK_PREFIX_BYTES:].decode() == k[-1] for k in keys)
