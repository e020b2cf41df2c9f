"""Which doc/code candidates become bimodal pairs: CodeSearchNet's rules, as defaults.

CodeSearchNet (Husain et al., 2019, section 2.2) keeps a function and the first paragraph
of its documentation when the doc has at least 3 tokens and the code at least 3 lines, and
skips test functions (names containing "test"), constructors and standard extension
methods (``__str__``, ``toString``), then removes duplicates. Here, as in that paper:

- ``min_doc_tokens``: whitespace-separated words of the cleaned first paragraph;
- ``min_code_lines``: non-blank lines of the code with its doc removed;
- tests: a name with ``test`` as a word part (``test_x``, ``testFoo``, ``fooTest``,
  ``x_test``; not ``latest``);
- constructors: per language (``__init__``, Java and C# constructor declarations,
  ``constructor``, ``__construct``, ``initialize``, Rust's ``new``);
- trivial accessors: ``get``/``set``/``is``/``has`` + a name, whose body is one statement;
- overrides without docs of their own: a doc that is only ``{@inheritDoc}`` or
  ``<inheritdoc/>`` reads as empty and fails ``min_doc_tokens``;
- standard extension methods (``__repr__``, ``toString``, ``equals``, ``hashCode``, ...);
- exact duplicates within a file (the build removes those across files,
  ``pipelines.transforms``: ``DedupPairs``).

Every rule is a field of ``PairRules`` and can be relaxed per build.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from pipelines.records import Record, record_id

if TYPE_CHECKING:
    from pipelines.parse.analysis import Pair, ParseResult

_TEST_NAME = re.compile(r"(?:^|_|\.|::)test|Test")
_ACCESSOR = re.compile(r"(?:^|_|\.|::)(?:get|set|is|has)(?:[A-Z_]|$)")
STANDARD_METHODS = frozenset({
    "__str__", "__repr__", "__eq__", "__ne__", "__hash__", "__lt__", "__le__", "__gt__",
    "__ge__", "__len__", "__iter__", "__bool__", "__format__", "toString", "equals",
    "hashCode", "compareTo", "clone", "finalize", "ToString", "Equals", "GetHashCode",
    "__toString", "to_s", "inspect", "fmt", "String"})
"""Names of the standard extension methods skipped with ``skip_standard_methods``."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class PairRules:
    """CodeSearchNet's filtering rules for doc/code pairs, each one adjustable."""

    min_doc_tokens: int = 3
    """A pair's doc (first paragraph) needs at least this many whitespace-separated words."""
    min_code_lines: int = 3
    """A pair's code (doc removed) needs at least this many non-blank lines."""
    skip_tests: bool = True
    """Skip functions whose name has ``test`` as a word part."""
    skip_constructors: bool = True
    """Skip constructors."""
    skip_accessors: bool = True
    """Skip getters and setters whose body is a single statement."""
    skip_standard_methods: bool = True
    """Skip ``STANDARD_METHODS`` (``__str__``, ``toString``, ...)."""

    def __post_init__(self) -> None:
        if self.min_doc_tokens < 0 or self.min_code_lines < 0:
            raise ValueError("min_doc_tokens and min_code_lines must be >= 0")


def _body_statements(code: str) -> int:
    """Lines of ``code`` after its first that are more than braces and ``end``."""
    return sum(1 for line in code.splitlines()[1:] if line.strip(" \t{};") not in ("", "end"))


def skip_reason(pair: Pair, rules: PairRules) -> str | None:
    """Why ``pair`` is not kept under ``rules`` (``short_doc``, ``short_code``, ``test``,
    ``constructor``, ``accessor``, ``standard_method``), or None to keep it."""
    if len(pair.docstring.split()) < rules.min_doc_tokens:
        return "short_doc"
    if sum(1 for line in pair.code.splitlines() if line.strip()) < rules.min_code_lines:
        return "short_code"
    if rules.skip_tests and _TEST_NAME.search(pair.name):
        return "test"
    if rules.skip_constructors and pair.constructor:
        return "constructor"
    if rules.skip_standard_methods and pair.name in STANDARD_METHODS:
        return "standard_method"
    if rules.skip_accessors and _ACCESSOR.search(pair.name) and _body_statements(pair.code) <= 1:
        return "accessor"
    return None


def select_pairs(pairs: tuple[Pair, ...], rules: PairRules) -> list[Pair]:
    """The pairs ``rules`` keep, in order, without repeats of the same doc and code."""
    seen: set[tuple[str, str]] = set()
    out = []
    for pair in pairs:
        key = (pair.docstring, pair.code)
        if key in seen or skip_reason(pair, rules) is not None:
            continue
        seen.add(key)
        out.append(pair)
    return out


def pair_text(docstring: str, code: str) -> str:
    """The canonical text of a pair record: the docstring, a newline, then the code."""
    return f"{docstring}\n{code}"


def pair_records(record: Record, result: ParseResult, component: str,
                 rules: PairRules = PairRules()) -> list[Record]:
    """One ``kind="pair"`` record per pair of ``result`` that ``rules`` keep, in file order.

    Args:
        record: the code record that was parsed; its lang, repo, path and license are copied.
        result: ``analyze(record.text, record.lang, record.path)``.
        component: mixture component the pairs go to (e.g. ``pairs``).
        rules: which candidates to keep (default: CodeSearchNet's).

    Returns:
        Records with ``code``, ``docstring``, ``text = pair_text(docstring, code)``, and
        ``meta`` = the source meta (less the file's ``bytes``, ``edits`` and cluster) plus
        ``meta["pair"] = {"source_id", "name", "start_line",
        "end_line"}``; the id hashes ``"{record.id}:{name}:{start_line}"`` and the text.
    """
    out = []
    for pair in select_pairs(result.pairs, rules):
        text = pair_text(pair.docstring, pair.code)
        # The file's size, edits and dedup cluster describe the file, not this pair.
        kept = {k: v for k, v in record.meta.items()
                if k not in ("bytes", "edits", "cluster", "cluster_size")}
        meta = {**kept, "pair": {"source_id": record.id, "name": pair.name,
                                 "start_line": pair.start_line,
                                 "end_line": pair.end_line}}
        out.append(Record(
            id=record_id(f"{record.id}:{pair.name}:{pair.start_line}", text),
            text=text, kind="pair", lang=record.lang, component=component, repo=record.repo,
            path=record.path, license=record.license, meta=meta, source=record.source,
            code=pair.code, docstring=pair.docstring))
    return out
