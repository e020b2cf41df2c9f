"""Syntax health: how much of a document its grammar could not read, and the verdict.

``error_ratio`` is the share of the document's UTF-8 bytes covered by ``ERROR`` nodes, plus
one byte per ``MISSING`` token, so a file whose only fault is a missing ``)`` still scores
above zero. Unlike a yes/no ``has_error`` this tolerates one bad macro in a 5,000-line C
file while dropping truncated files, templates and files in the wrong language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tree_sitter

if TYPE_CHECKING:
    from pipelines.parse.analysis import ParseResult

SYNTAX_ERROR = "syntax_error"
"""The drop reason ``syntax_verdict`` returns."""

PARSED = "parsed"
"""``ParseResult.status`` of a document that has a tree, whatever its errors."""

TIMEOUT = "timeout"
"""``ParseResult.status`` of a document whose parse ran past its time limit: no health
score, kept unchecked and counted."""

TOO_LARGE = "too_large"
"""``ParseResult.status`` of a document over the size cap, not parsed: no health score,
kept unchecked and counted."""


def error_extent(root: tree_sitter.Node) -> int:
    """Bytes under ERROR nodes plus one per MISSING node; iterative, so deep trees are
    fine, and it enters only the subtrees that hold an error."""
    if not root.has_error:
        return 0
    covered = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error:
            # Outermost ERROR only: its descendants are inside its range already.
            covered += max(1, node.end_byte - node.start_byte)
        elif node.is_missing:
            covered += 1
        elif node.has_error:
            stack.extend(node.children)
    return covered


def syntax_verdict(result: ParseResult, max_error_ratio: float) -> str | None:
    """None to keep a document, or ``"syntax_error"`` when its error ratio is above
    ``max_error_ratio`` (a share of bytes, 0 to 1; 0 drops any file with an error). A
    document that was not parsed (``timeout``, ``too_large``) has no score and is kept."""
    if not 0.0 <= max_error_ratio <= 1.0:
        raise ValueError(f"max_error_ratio must be in [0, 1], got {max_error_ratio!r}")
    return SYNTAX_ERROR if result.error_ratio > max_error_ratio else None
