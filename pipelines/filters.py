"""Quality heuristics for code and prose.

Cheap signals that catch what is not worth training on, in the spirit of the StarCoder
and Gopher filters: code whose longest line is enormous (minified or embedded data), code
that is mostly non-alphabetic (tables of numbers), and prose too short to be prose. Each
returns a reason or None; ``quality_verdict`` picks the ones for the record's kind.
"""

from __future__ import annotations

import re

from pipelines.config import FilterSpec
from pipelines.records import Record

_WORD = re.compile(r"\w+")


def longest_line(text: str) -> int:
    """Length of the longest line, in characters."""
    return max(map(len, text.splitlines()), default=0)


def alpha_fraction(text: str) -> float:
    """Share of characters that are alphabetic (0 for empty text)."""
    return sum(c.isalpha() for c in text) / len(text) if text else 0.0


def code_verdict(text: str, spec: FilterSpec) -> str | None:
    """``long_lines`` or ``low_alpha`` for code that is data in disguise, else None."""
    if longest_line(text) > spec.max_line_chars:
        return "long_lines"
    if alpha_fraction(text) < spec.min_alpha_fraction:
        return "low_alpha"
    return None


def text_verdict(text: str, spec: FilterSpec) -> str | None:
    """``too_few_words`` for prose under ``min_words`` words, else None."""
    if len(_WORD.findall(text)) < spec.min_words:
        return "too_few_words"
    return None


def quality_verdict(record: Record, spec: FilterSpec) -> str | None:
    """The drop reason for a record of any kind, or None to keep it."""
    if record.kind == "code":
        return code_verdict(record.text, spec)
    if record.kind == "text":
        return text_verdict(record.text, spec)
    return None
