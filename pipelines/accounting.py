"""Where every document ends: kept, or dropped at a named stage for a named reason.

Every stage function returns a record or a ``Drop``; the pipeline counts both, and
``funnel`` turns the counts into the per-component balance sheet of stats.json, where
``in == kept + sum(dropped)`` holds for every component by construction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Drop:
    """A document that leaves the build.

    Attributes:
        component: mixture component it belonged to.
        stage: stage that dropped it (``read``, ``clean``, ``filter``, ``dedup``, ``parse``,
            ``tokenize``).
        reason: why, e.g. ``binary``, ``too_short``, ``near_duplicate``.
        id: the record id when one exists, else the source location.
    """

    component: str
    stage: str
    reason: str
    id: str


STAGES = ("read", "clean", "filter", "dedup", "parse", "tokenize")
"""Stages in pipeline order; stats.json lists per-stage counts in this order."""


def funnel(entered: Iterable[tuple[tuple[str, str], int]],
           dropped: Iterable[tuple[tuple[str, str, str], int]],
           kept: dict[str, int]) -> dict[str, Any]:
    """Assemble stats.json's counts.

    Args:
        entered: ``((component, stage), n)``: documents that entered each stage.
        dropped: ``((component, stage, reason), n)``: documents each stage dropped.
        kept: component -> documents written to shards.

    Returns:
        ``{"components": {name: {"in", "kept", "dropped": {reason: n}, "balanced"}},
        "stages": {stage: {"in": {component: n}, "dropped": {component: n}}}}``, all keys
        sorted. ``in`` is what entered the first stage; ``balanced`` says that
        ``in == kept + sum(dropped)``.
    """
    stages: dict[str, dict[str, dict[str, int]]] = {
        s: {"in": {}, "dropped": {}} for s in STAGES}
    for (component, stage), n in entered:
        stages[stage]["in"][component] = n
    by_reason: dict[str, dict[str, int]] = {}
    for (component, stage, reason), n in dropped:
        stages[stage]["dropped"][component] = stages[stage]["dropped"].get(component, 0) + n
        reasons = by_reason.setdefault(component, {})
        reasons[reason] = reasons.get(reason, 0) + n
    components = {}
    for name in sorted(set(kept) | set(by_reason) | set(stages["read"]["in"])):
        n_in = stages["read"]["in"].get(name, 0)
        n_kept = kept.get(name, 0)
        reasons = dict(sorted(by_reason.get(name, {}).items()))
        components[name] = {"in": n_in, "kept": n_kept, "dropped": reasons,
                            "balanced": n_in == n_kept + sum(reasons.values())}
    return {"components": components,
            "stages": {s: {k: dict(sorted(v.items())) for k, v in stages[s].items()}
                       for s in STAGES}}
