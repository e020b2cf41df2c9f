"""The stats.json funnel balances in = kept + dropped for every component."""

from pipelines.accounting import funnel


def test_funnel_balances_and_sorts():
    stats = funnel(entered=[(("a", "read"), 10), (("a", "clean"), 8), (("b", "read"), 2)],
                   dropped=[(("a", "read", "binary"), 2), (("a", "dedup", "near_duplicate"), 3)],
                   kept={"a": 5, "b": 1})
    a, b = stats["components"]["a"], stats["components"]["b"]
    assert a == {"in": 10, "kept": 5, "dropped": {"binary": 2, "near_duplicate": 3},
                 "balanced": True}
    assert b["balanced"] is False  # one of b's two documents is unaccounted for
    assert stats["stages"]["read"] == {"in": {"a": 10, "b": 2}, "dropped": {"a": 2}}
