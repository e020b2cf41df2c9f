"""Where every document ends: kept, or dropped at a named stage for a named reason.

Every stage function returns a record or a ``Drop``; the pipeline counts both, and
``funnel`` turns the counts into the per-component and per-source balance sheet of
stats.json, where ``in == kept + sum(dropped)`` holds for every component and every input
by construction; the drop log (``pipelines/droplog.py``) lists the same drops one by one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.records import Record


@dataclasses.dataclass(frozen=True, slots=True)
class Drop:
    """A document that leaves the build.

    Attributes:
        component: mixture component it belonged to.
        stage: stage that dropped it (``read``, ``clean``, ``filter``, ``dedup``, ``parse``,
            ``tokenize``).
        reason: why, e.g. ``binary``, ``too_short``, ``near_duplicate``.
        id: the record id when one exists, else the source location (a file, a file's
            line, an archive member: whatever the drop log needs to point at it).
        source: label of the input it came from (``InputSpec.label``), for the per-source
            funnel; empty for documents made inside the build (pairs).
        bytes: size of what was dropped, in bytes, when known (0 otherwise).
        detail: free text for the drop log (e.g. the missing columns of a ``wrong_schema``
            file, or where a stream was cut); never counted, so reasons stay few.
    """

    component: str
    stage: str
    reason: str
    id: str
    source: str = ""
    bytes: int = 0
    detail: str = ""

    @classmethod
    def of(cls, record: "Record", stage: str, reason: str, detail: str = "") -> "Drop":
        """The drop of a record, carrying its source and size for the funnel and the log."""
        return cls(record.component, stage, reason, record.id, record.source,
                   len(record.text.encode("utf-8", "surrogatepass")), detail)


STAGES = ("read", "clean", "filter", "redact", "decontam", "dedup", "parse", "tokenize")
"""Stages in pipeline order; stats.json lists per-stage counts in this order."""

TIMED_STAGES = ("read", "clean", "filter", "redact", "decontam", "dedup", "parse",
                "tokenizer", "tokenize", "write")
"""Stages timed in stats.json's ``timings`` (``pipelines.timing``), in pipeline order:
``tokenizer`` is training the BPE, ``tokenize`` encoding, ``write`` writing shards."""


class UnbalancedBuild(RuntimeError):
    """stats.json does not balance: a document was lost or counted twice, which only a bug
    can do; the build wrote no manifest."""


def check_balanced(stats: dict[str, Any]) -> None:
    """Raise ``UnbalancedBuild`` naming every component of ``stats`` (stats.json) whose
    ``in`` differs from ``kept + sum(dropped)``."""
    faults = [f"{name}: {c['in']} in, {c['kept']} kept, {sum(c['dropped'].values())} dropped"
              for name, c in stats["components"].items() if not c["balanced"]]
    if faults:
        raise UnbalancedBuild(f"stats.json does not balance ({'; '.join(faults)}); a bug "
                              "lost or double-counted documents, so no manifest was written")


def _bump(table: dict, key: str, n: int) -> None:
    table[key] = table.get(key, 0) + n


def funnel(counts: Iterable[tuple[tuple, int]], kept: dict[str, int]) -> dict[str, Any]:
    """Assemble stats.json's balance sheet from the build's counters.

    Args:
        counts: ``(key, n)`` pairs, keys being tuples whose first element says what they
            count: ``("in", component, stage)`` documents entering a stage;
            ``("drop", component, stage, reason)``; ``("src_in", component, source)`` and
            ``("src_bytes", component, source)`` documents and bytes read from an input;
            ``("src_drop", component, source, reason)``; ``("src_kept", component,
            source)``; ``("edit", component, kind)`` and ``("src_edit", component, source,
            kind)`` changes made to the text (redactions per kind, transcodings,
            decontamination cuts). Other keys are ignored.
        kept: component -> documents written to shards.

    Returns:
        ``{"components": {name: {"in", "bytes_in", "kept", "dropped": {reason: n},
        "edits": {kind: n}, "sources": {label: {"in", "bytes_in", "kept", "dropped",
        "edits", "balanced"}}, "balanced"}}, "stages": {stage: {"in": {component: n}, "dropped":
        {component: n}}}}``, every mapping sorted by key. ``in`` is what entered the first
        stage; ``balanced`` says that ``in == kept + sum(dropped)``.
    """
    stages: dict[str, dict[str, dict[str, int]]] = {
        s: {"in": {}, "dropped": {}} for s in STAGES}
    comps: dict[str, dict[str, Any]] = {}

    def comp(name: str) -> dict[str, Any]:
        return comps.setdefault(name, {"in": 0, "bytes_in": 0, "kept": kept.get(name, 0),
                                       "dropped": {}, "edits": {}, "sources": {}})

    def source(name: str, label: str) -> dict[str, Any]:
        return comp(name)["sources"].setdefault(
            label, {"in": 0, "bytes_in": 0, "kept": 0, "dropped": {}, "edits": {}})

    for key, n in counts:
        what, name, *rest = key
        if what == "in":
            stages[rest[0]]["in"][name] = stages[rest[0]]["in"].get(name, 0) + n
            if rest[0] == "read":
                comp(name)["in"] += n
        elif what == "drop":
            _bump(stages[rest[0]]["dropped"], name, n)
            _bump(comp(name)["dropped"], rest[1], n)
        elif what == "edit":
            _bump(comp(name)["edits"], rest[0], n)
        elif what == "src_in":
            source(name, rest[0])["in"] += n
        elif what == "src_bytes":
            source(name, rest[0])["bytes_in"] += n
            comp(name)["bytes_in"] += n
        elif what == "src_drop":
            _bump(source(name, rest[0])["dropped"], rest[1], n)
        elif what == "src_edit":
            _bump(source(name, rest[0])["edits"], rest[1], n)
        elif what == "src_kept":
            source(name, rest[0])["kept"] += n
    for name in kept:
        comp(name)
    for entry in comps.values():
        for table in (entry["dropped"], entry["edits"]):
            items = sorted(table.items())
            table.clear()
            table.update(items)
        for src in entry["sources"].values():
            src["dropped"] = dict(sorted(src["dropped"].items()))
            src["edits"] = dict(sorted(src["edits"].items()))
            src["balanced"] = src["in"] == src["kept"] + sum(src["dropped"].values())
        entry["sources"] = dict(sorted(entry["sources"].items()))
        entry["balanced"] = entry["in"] == entry["kept"] + sum(entry["dropped"].values())
    return {"components": dict(sorted(comps.items())),
            "stages": {s: {k: dict(sorted(v.items())) for k, v in stages[s].items()}
                       for s in STAGES}}
