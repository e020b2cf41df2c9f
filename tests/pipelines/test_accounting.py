"""The stats.json funnel balances in = kept + dropped per component and per source."""

from pipelines.accounting import funnel


def test_funnel_balances_and_sorts():
    stats = funnel([(("in", "a", "read"), 10), (("in", "a", "clean"), 8),
                    (("in", "b", "read"), 2), (("drop", "a", "read", "binary"), 2),
                    (("drop", "a", "dedup", "near_duplicate"), 3)],
                   kept={"a": 5, "b": 1})
    a, b = stats["components"]["a"], stats["components"]["b"]
    assert (a["in"], a["kept"], a["dropped"], a["balanced"]) == (
        10, 5, {"binary": 2, "near_duplicate": 3}, True)
    assert b["balanced"] is False  # one of b's two documents is unaccounted for
    assert stats["stages"]["read"] == {"in": {"a": 10, "b": 2}, "dropped": {"a": 2}}


def test_funnel_reports_sources_bytes_and_edits():
    stats = funnel([(("in", "a", "read"), 4), (("src_in", "a", "repo1"), 3),
                    (("src_in", "a", "repo2"), 1), (("src_bytes", "a", "repo1"), 100),
                    (("src_bytes", "a", "repo2"), 50), (("drop", "a", "clean", "vendored"), 1),
                    (("drop", "a", "read", "bad_json"), 1),
                    (("src_drop", "a", "repo2", "clean", "vendored"), 1),
                    (("src_drop", "a", "repo1", "read", "bad_json"), 1),
                    (("src_kept", "a", "repo1"), 2),
                    (("edit", "a", "email"), 4), (("src_edit", "a", "repo1", "email"), 4),
                    (("lang", "a", "python"), 2)],
                   kept={"a": 2})
    a = stats["components"]["a"]
    assert a["bytes_in"] == 150 and a["edits"] == {"email": 4} and a["balanced"]
    assert a["sources"] == {
        "repo1": {"in": 3, "bytes_in": 100, "kept": 2, "dropped": {"bad_json": 1},
                  "read_dropped": {"bad_json": 1}, "unlicensed_repos": {},
                  "edits": {"email": 4}, "balanced": True},
        "repo2": {"in": 1, "bytes_in": 50, "kept": 0, "dropped": {"vendored": 1},
                  "read_dropped": {}, "unlicensed_repos": {}, "edits": {},
                  "balanced": True}}
