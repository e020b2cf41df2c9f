"""Loud results: what a finished build warns about, so that no input is lost in silence.

A build that lost a whole input still balances (each lost unit is a counted drop), so the
balance check cannot see it: a ``.jsonl.gz`` that is not gzip is one ``unreadable`` drop,
a JSONL input pointed at a tarball thousands of ``bad_json`` ones. ``build_alerts`` reads
stats.json against the config and names each input that kept no document, each input
that lost more than ``warn_drop_fraction`` of its units at the read stage, each repository
that ``permissive_only`` emptied for want of a license file (once), and each component
left empty, with the top reasons. ``codemix build`` prints them as warnings, or
with ``--strict`` refuses to publish the build.
"""

from __future__ import annotations

from typing import Any

from pipelines.config import BuildConfig

TOP_REASONS = 3
"""Reasons named per warning, most frequent first."""


def _top(reasons: dict[str, int]) -> str:
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
    return ", ".join(f"{reason} {n}" for reason, n in ranked) or "none"


def build_alerts(stats: dict[str, Any], config: BuildConfig) -> list[str]:
    """The warnings a build's stats.json calls for, one line each, in config order.

    Args:
        stats: the build's stats.json (``pipelines.results.build_stats``).
        config: the build's config: its inputs (an input that listed nothing has no
            entry in stats.json) and ``warn_drop_fraction``.

    Returns:
        An empty list when the build needs no warning.
    """
    alerts = []
    bound = config.warn_drop_fraction
    for comp in config.components:
        entry = stats["components"].get(comp.name, {})
        for spec in comp.inputs:
            src = entry.get("sources", {}).get(spec.label)
            where = f"input {spec.label} of {comp.name}"
            if src is None:
                alerts.append(f"{where}: nothing to read (no file or row found)")
            elif src["kept"] == 0:
                alerts.append(f"{where}: no document kept of {src['in']} read; top "
                              f"reasons: {_top(src['dropped'])}")
            elif sum(src["read_dropped"].values()) > bound * src["in"]:
                lost = sum(src["read_dropped"].values())
                alerts.append(f"{where}: {lost} of {src['in']} units ({lost / src['in']:.0%}) "
                              f"lost at the read stage, more than warn_drop_fraction "
                              f"{bound:g}; top reasons: {_top(src['read_dropped'])}")
            for repo, n in (src or {}).get("unlicensed_repos", {}).items():
                alerts.append(f"{where}: repository {repo or '(none)'} has no license file; "
                              f"permissive_only dropped its {n} document(s)")
        if entry.get("kept", 0) == 0:
            alerts.append(f"component {comp.name}: empty, no document kept of "
                          f"{entry.get('in', 0)}; top reasons: {_top(entry.get('dropped', {}))}")
    return alerts
