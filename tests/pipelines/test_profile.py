"""The kept corpus's profile in stats.json agrees with the shards and the funnel."""

from __future__ import annotations

import json

import pytest

from pipelines.profile import length_bin, profile
from shards.format import Shard
from shards.manifest import load_manifest, resolve


@pytest.mark.parametrize("tokens, expected", [(0, 0), (1, 1), (2, 2), (3, 2), (4, 4), (7, 4),
                                              (8, 8), (1000, 512), (1024, 1024)])
def test_length_bins_are_powers_of_two(tokens, expected):
    assert length_bin(tokens) == expected


def test_profile_merges_counters_and_orders_bins_numerically():
    counts = [(("profile", "c", "length_tokens", "16"), 2), (("profile", "c", "length_tokens",
                                                              "4"), 1),
              (("profile", "c", "languages", "py", "docs"), 1),
              (("profile", "c", "languages", "py", "docs"), 2), (("lang", "c", "py"), 3)]
    got = profile(counts)
    assert got == {"c": {"languages": {"py": {"docs": 3}}, "licenses": {},
                         "length_tokens": {"4": 1, "16": 2}, "parse": {}}}
    assert list(got["c"]["length_tokens"]) == ["4", "16"]


def test_profile_agrees_with_the_shards(built_corpus):
    stats = json.loads((built_corpus / "stats.json").read_text())
    url = str(built_corpus / "manifest.json")
    for comp in load_manifest(url, verify=False).components:
        langs, lengths = {}, {}
        for entry in comp.shards:
            with Shard(resolve(url, entry.path)) as shard:
                for tokens, meta in shard:
                    row = langs.setdefault(meta["lang"], {"docs": 0, "tokens": 0})
                    row["docs"] += 1
                    row["tokens"] += len(tokens)
                    b = str(length_bin(len(tokens)))
                    lengths[b] = lengths.get(b, 0) + 1
        prof = stats["profile"][comp.name]
        assert {k: {"docs": v["docs"], "tokens": v["tokens"]}
                for k, v in prof["languages"].items()} == langs
        assert prof["length_tokens"] == dict(sorted(lengths.items(), key=lambda kv: int(kv[0])))
        assert sum(v["docs"] for v in prof["licenses"].values()) == comp.docs


def test_parse_health_counts_every_parsed_code_document(built_corpus):
    stats = json.loads((built_corpus / "stats.json").read_text())
    for name, prof in stats["profile"].items():
        outcomes = [n for row in prof["parse"].values() for n in row.values()]
        dropped = sum(n for row in prof["parse"].values() for k, n in row.items() if k != "ok")
        assert dropped == stats["stages"]["parse"]["dropped"].get(name, 0)
        assert sum(outcomes) <= stats["stages"]["parse"]["in"].get(name, 0)
    assert stats["profile"]["code-python"]["parse"]["python"]["syntax_error"] == 1
