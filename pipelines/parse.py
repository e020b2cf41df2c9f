"""Tree-sitter stage: syntax health, function/class boundaries and docstring<->code pairs.

Each code record is parsed once with its language's tree-sitter grammar, giving:

- **syntax health**: ``error_ratio``, the share of the document's UTF-8 bytes covered by
  ``ERROR`` nodes (plus one byte per ``MISSING`` token, so a file whose only fault is a missing
  ``)`` still scores above zero). ``syntax_verdict`` drops documents above a threshold. Unlike
  a yes/no ``has_error`` this tolerates one bad macro in a 5,000-line C file while dropping
  truncated files, templates and files in the wrong language.
- **boundaries**: every function (methods, constructors, named arrow functions included) and
  class, by 1-based inclusive line span, including decorators, ``export`` and ``template``
  headers.
- **bimodal pairs** (CodeT5+ text-code matching and generation): a Python function whose body
  starts with a docstring, or a C/C++/Java/JavaScript function directly preceded by a block
  comment or a run of ``//`` lines. The pair's code never contains its docstring, so a model
  cannot learn the pair by copying. Trivial pairs are skipped (docstring under
  ``MIN_DOC_WORDS`` words, body under ``MIN_BODY_LINES`` non-empty lines), and so are comments
  that look like a license header.

Per-language extraction is query text (``_SPECS``); the walker that merges query matches,
finds leading comments and cuts docstrings out is shared by all languages. Adding a language
means one ``_Spec``: its grammar module, its query, and the node types that wrap a definition.

Threading: ``Language`` and ``Query`` objects are read-only and cached per process; a
``Parser`` is stateful, so each ``Parsers`` object owns its own. A Beam DoFn builds one
``Parsers`` in ``setup()`` (Beam runs one DoFn instance per thread); the module-level
``analyze`` uses a thread-local ``Parsers``.

Throughput (one core of the 2-core build box, Python 3.11, tree-sitter 0.26): the 168
top-level ``*.py`` files of the 3.11 standard library (4.7 MB) analyze at about 210 docs/s,
6 MB/s, pairs included (7,025 functions, 2,444 pairs); the parse itself is ~75% of that, the
queries and pair extraction the rest. CPython's 189 C headers (0.9 MB): ~1,500 docs/s, 7 MB/s.
That is several times faster than BPE encoding, the slowest stage. Adversarial garbage
(e.g. 450 KB of ``def f(): `` parsed as C++) parses linearly but slowly, ~100-200 KB/s,
in tree-sitter's error recovery; the size limits of the clean stage bound it.

Example::

    parsers = Parsers()                       # DoFn.setup
    result = parsers.analyze(record.text, record.lang)
    if result is not None:
        reason = syntax_verdict(result, max_error_ratio=0.05)
        pairs = pair_records(record, result, component="pairs")
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import re
import textwrap
import threading
from typing import NamedTuple

import tree_sitter

from pipelines.records import Record, record_id

MIN_DOC_WORDS = 3
"""A pair needs a docstring of at least this many whitespace-separated words."""

MIN_BODY_LINES = 2
"""A pair needs at least this many non-empty body lines besides the docstring (brace-only lines
and, in Python, the docstring itself do not count)."""

MAX_ERROR_NODES = 10_000
"""Functions, classes and pairs are not extracted from a tree whose ERROR regions hold more
than this many nodes (``ParseResult.extracted`` is False). Query matching is quadratic in the
width of some error nodes (200 KB of ``(`` takes ~40 s); a tree that broken is not this
language, or not code, and its error ratio drops it anyway."""

SYNTAX_ERROR = "syntax_error"
"""The drop reason ``syntax_verdict`` returns."""


# ---------------------------------------------------------------------------------------------
# Per-language query text. Captures: @function / @class mark a definition, @name its name
# (optional: a definition can match several patterns, the lowest-numbered pattern's name wins),
# @doc a docstring inside the body (Python). Definitions without a @doc capture look for a
# comment directly above them instead.

_PYTHON_QUERY = """
(function_definition
  name: (identifier) @name
  body: (block . (expression_statement . (string) @doc .))) @function
(function_definition name: (identifier) @name) @function
(class_definition name: (identifier) @name) @class
"""

_C_FUNCTIONS = """
(function_definition
  declarator: (function_declarator declarator: (_) @name)) @function
(function_definition
  declarator: (_ (function_declarator declarator: (_) @name))) @function
(function_definition
  declarator: (_ (_ (function_declarator declarator: (_) @name)))) @function
(function_definition) @function
"""

_C_QUERY = _C_FUNCTIONS + """
(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @class
(struct_specifier body: (field_declaration_list)) @class
"""

_CPP_QUERY = _C_FUNCTIONS + """
(class_specifier name: (_) @name body: (field_declaration_list)) @class
(class_specifier body: (field_declaration_list)) @class
(struct_specifier name: (_) @name body: (field_declaration_list)) @class
(struct_specifier body: (field_declaration_list)) @class
"""

_JAVA_QUERY = """
(method_declaration name: (identifier) @name body: (block)) @function
(constructor_declaration name: (identifier) @name) @function
(class_declaration name: (identifier) @name) @class
(interface_declaration name: (identifier) @name) @class
(enum_declaration name: (identifier) @name) @class
(record_declaration name: (identifier) @name) @class
"""

_JAVASCRIPT_QUERY = """
(function_declaration name: (identifier) @name) @function
(generator_function_declaration name: (identifier) @name) @function
(method_definition name: (_) @name) @function
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression)] @function)
(assignment_expression
  left: [(identifier) (member_expression)] @name
  right: [(arrow_function) (function_expression)] @function)
(class_declaration name: (identifier) @name) @class
"""


@dataclasses.dataclass(frozen=True, slots=True)
class _Spec:
    module: str
    """Grammar package exposing ``language()``."""
    query: str
    """Query text, see the captures above."""
    wrappers: frozenset[str]
    """Node types that, as a definition's parent, belong to the definition (decorators,
    ``export``, ``template <...>``, ``const f = ...``): boundaries, code and the comment search
    start from the outermost one."""
    leading_comments: bool = True
    """Whether a comment directly above a definition is its docstring (C-family), rather than
    only a string literal captured as @doc (Python)."""


_SPECS: dict[str, _Spec] = {
    "python": _Spec("tree_sitter_python", _PYTHON_QUERY, frozenset({"decorated_definition"}),
                    leading_comments=False),
    "c": _Spec("tree_sitter_c", _C_QUERY, frozenset()),
    "cpp": _Spec("tree_sitter_cpp", _CPP_QUERY, frozenset({"template_declaration"})),
    "java": _Spec("tree_sitter_java", _JAVA_QUERY, frozenset()),
    "javascript": _Spec("tree_sitter_javascript", _JAVASCRIPT_QUERY, frozenset({
        "export_statement", "variable_declarator", "lexical_declaration",
        "variable_declaration", "assignment_expression", "expression_statement"})),
}

LANGUAGES: tuple[str, ...] = tuple(sorted(_SPECS))
"""Languages with a grammar; ``analyze`` returns None for any other."""

_ALIASES = {"c++": "cpp", "js": "javascript", "py": "python", "python3": "python"}


def canonical_language(lang: str) -> str | None:
    """The registry name for ``lang`` (case-insensitive; ``c++``, ``js``, ``py`` accepted), or
    None when no grammar is registered for it."""
    name = lang.strip().lower()
    name = _ALIASES.get(name, name)
    return name if name in _SPECS else None


@functools.cache
def _grammar(lang: str) -> tuple[tree_sitter.Language, tree_sitter.Query]:
    """The grammar and compiled query of a registered language, built once per process."""
    spec = _SPECS[lang]
    language = tree_sitter.Language(importlib.import_module(spec.module).language())
    return language, tree_sitter.Query(language, spec.query)


# ---------------------------------------------------------------------------------------------
# Results


class Span(NamedTuple):
    """A function or class: its name ('' when anonymous) and 1-based inclusive line span."""

    name: str
    start_line: int
    end_line: int


class Pair(NamedTuple):
    """A function/docstring bimodal pair.

    ``docstring`` is cleaned (quotes or comment markers stripped, dedented); ``code`` is the
    whole definition, dedented, without the docstring.
    """

    name: str
    start_line: int
    end_line: int
    docstring: str
    code: str


@dataclasses.dataclass(frozen=True, slots=True)
class ParseResult:
    """What one parse tells about a document; lists are ordered by position in the file.

    Attributes:
        lang: registry language name the document was parsed as.
        num_bytes: UTF-8 size of the document.
        error_bytes: bytes covered by ERROR nodes plus one per MISSING token (at most
            ``num_bytes``).
        error_ratio: ``error_bytes / num_bytes`` (0.0 for an empty document).
        has_error: the tree contains any ERROR or MISSING node (tree-sitter's own flag).
        extracted: False when the error regions were too large to look for structure in
            (see ``MAX_ERROR_NODES``); functions, classes and pairs are then empty.
        functions: every function, method, constructor and named function expression.
        classes: every class (C: struct with a body; Java: class, interface, enum, record).
        pairs: function/docstring pairs that passed the triviality checks.
        header_lines: lines of a leading comment block that reads like a license or
            copyright notice (0 when the file has none).
    """

    lang: str
    num_bytes: int
    error_bytes: int
    error_ratio: float
    has_error: bool
    extracted: bool
    functions: tuple[Span, ...]
    classes: tuple[Span, ...]
    pairs: tuple[Pair, ...]
    header_lines: int = 0

    @property
    def num_functions(self) -> int:
        return len(self.functions)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# ---------------------------------------------------------------------------------------------
# Parsers


class Parsers:
    """Lazily built tree-sitter parsers, one per language; not thread-safe, build one per
    thread (in ``DoFn.setup``).

    Args:
        languages: languages to build now (default: none, each is built on first use). Names
            are validated, so a typo fails at construction, not an hour into a run.
    """

    def __init__(self, languages: tuple[str, ...] | list[str] = ()) -> None:
        self._parsers: dict[str, tree_sitter.Parser] = {}
        for lang in languages:
            if self.get(lang) is None:
                raise ValueError(f"no tree-sitter grammar for {lang!r}; known: {LANGUAGES}")

    def get(self, lang: str) -> tree_sitter.Parser | None:
        """The parser for ``lang``, or None when it has no grammar."""
        name = canonical_language(lang)
        if name is None:
            return None
        parser = self._parsers.get(name)
        if parser is None:
            parser = self._parsers[name] = tree_sitter.Parser(_grammar(name)[0])
        return parser

    def analyze(self, text: str, lang: str) -> ParseResult | None:
        """Parse ``text`` as ``lang``; see the module-level ``analyze``."""
        name = canonical_language(lang)
        if name is None:
            return None
        source = text.encode("utf-8", "surrogatepass")
        tree = self.get(name).parse(source)
        return _analyze_tree(tree, source, name)


_local = threading.local()


def get_parser(lang: str) -> tree_sitter.Parser | None:
    """This thread's parser for ``lang`` (None when it has no grammar)."""
    return _thread_parsers().get(lang)


def _thread_parsers() -> Parsers:
    parsers = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = Parsers()
    return parsers


def analyze(text: str, lang: str, *, parsers: Parsers | None = None) -> ParseResult | None:
    """Parse a document and measure it; never raises on any text.

    Args:
        text: the document (lone surrogates from ``surrogateescape`` decoding are kept).
        lang: language name, see ``canonical_language``.
        parsers: the ``Parsers`` to use (a DoFn passes its own); default: this thread's.

    Returns:
        A ``ParseResult``, or None when ``lang`` has no grammar.
    """
    return (parsers or _thread_parsers()).analyze(text, lang)


# ---------------------------------------------------------------------------------------------
# The shared walker


def _decode(data: bytes) -> str:
    # Node boundaries fall on code points for valid UTF-8; around invalid bytes (lone
    # surrogates) tree-sitter may split a sequence, hence the fallback.
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def _errors(root: tree_sitter.Node) -> tuple[int, int]:
    """(bytes under ERROR nodes plus one per MISSING node, nodes under ERROR nodes); iterative,
    so deep trees are fine."""
    if not root.has_error:
        return 0, 0
    covered = nodes = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error:
            # Outermost ERROR only: its descendants are inside its range already.
            covered += max(1, node.end_byte - node.start_byte)
            nodes += node.descendant_count
        elif node.is_missing:
            covered += 1
        elif node.has_error:
            stack.extend(node.children)
    return covered, nodes


def _analyze_tree(tree: tree_sitter.Tree, source: bytes, lang: str) -> ParseResult:
    root = tree.root_node
    spec = _SPECS[lang]
    num_bytes = len(source)
    error_bytes, error_nodes = _errors(root)
    error_bytes = min(num_bytes, error_bytes)
    extracted = error_nodes <= MAX_ERROR_NODES

    # (kind, start, end) -> [node, name pattern index, name, doc node]
    found: dict[tuple[str, int, int], list] = {}
    matches = tree_sitter.QueryCursor(_grammar(lang)[1]).matches(root) if extracted else []
    for pattern, captures in matches:
        for kind in ("function", "class"):
            nodes = captures.get(kind)
            if not nodes:
                continue
            node = nodes[0]
            entry = found.setdefault((kind, node.start_byte, node.end_byte),
                                     [node, None, "", None])
            names = captures.get("name")
            if names and (entry[1] is None or pattern < entry[1]):
                entry[1] = pattern
                entry[2] = _decode(source[names[0].start_byte:names[0].end_byte])
            docs = captures.get("doc")
            if docs and entry[3] is None:
                entry[3] = docs[0]

    functions: list[tuple[int, int, Span]] = []
    classes: list[tuple[int, int, Span]] = []
    pairs: list[tuple[int, int, Pair]] = []
    for (kind, _, _), (node, _, name, doc) in found.items():
        outer = node
        while outer.parent is not None and outer.parent.type in spec.wrappers:
            outer = outer.parent
        span = Span(name, outer.start_point.row + 1, outer.end_point.row + 1)
        order = (outer.start_byte, -outer.end_byte)
        if kind == "class":
            classes.append((*order, span))
            continue
        functions.append((*order, span))
        pair = None
        if doc is not None:
            pair = _docstring_pair(source, node, outer, doc)
        elif spec.leading_comments:
            pair = _comment_pair(source, node, outer)
        if pair is not None:
            docstring, code = pair
            pairs.append((*order, Pair(name, span.start_line, span.end_line, docstring, code)))

    return ParseResult(
        lang=lang,
        num_bytes=num_bytes,
        error_bytes=error_bytes,
        error_ratio=error_bytes / num_bytes if num_bytes else 0.0,
        has_error=root.has_error,
        extracted=extracted,
        functions=tuple(s for *_, s in sorted(functions)),
        classes=tuple(s for *_, s in sorted(classes)),
        pairs=tuple(p for *_, p in sorted(pairs)),
        header_lines=_license_header_lines(root, source),
    )


def _license_header_lines(root: tree_sitter.Node, source: bytes) -> int:
    """Lines of the comments that open the file (one block, or a run of line comments with no
    blank line between them), when they read like a license; else 0."""
    comments: list[tree_sitter.Node] = []
    for child in root.children:
        if not child.type.endswith("comment"):
            break
        if comments and child.start_point.row - comments[-1].end_point.row > 1:
            break
        comments.append(child)
    if not comments or comments[0].start_point.row > 1:
        return 0
    text = _decode(source[comments[0].start_byte:comments[-1].end_byte])
    return comments[-1].end_point.row + 1 if _LICENSE.search(text) else 0


def _line_start(source: bytes, pos: int) -> int:
    return source.rfind(b"\n", 0, pos) + 1


def _line_end(source: bytes, pos: int) -> int:
    """Offset just past the newline ending the line that holds ``pos`` (or the end)."""
    end = source.find(b"\n", pos)
    return len(source) if end < 0 else end + 1


def _code_start(source: bytes, start: int) -> int:
    """``start``, moved back to its line start when only indentation precedes it, so that
    dedenting keeps the relative indentation of the definition's lines."""
    line = _line_start(source, start)
    return line if not source[line:start].strip() else start


def _clean_code(raw: bytes) -> str:
    return textwrap.dedent(_decode(raw)).strip("\n")


def _body_lines(text: str) -> int:
    """Non-empty lines that are more than braces."""
    return sum(1 for line in text.splitlines() if line.strip(" \t{};"))


def _enough_words(docstring: str) -> bool:
    return len(docstring.split()) >= MIN_DOC_WORDS


def _docstring_pair(source: bytes, node: tree_sitter.Node, outer: tree_sitter.Node,
                    doc: tree_sitter.Node) -> tuple[str, str] | None:
    """(docstring, code without it) for a function whose body starts with a string literal."""
    docstring = _string_literal(source, doc)
    if docstring is None or not _enough_words(docstring):
        return None
    stmt = doc.parent  # the expression_statement holding the string
    cut_start, cut_end = stmt.start_byte, stmt.end_byte
    # A docstring alone on its lines takes those lines with it; one sharing a line with
    # code (`def f(): "doc"; return 1`) leaves the code.
    line_start, line_end = _line_start(source, cut_start), _line_end(source, cut_end)
    if not source[line_start:cut_start].strip() and not source[cut_end:line_end].strip():
        cut_start, cut_end = line_start, line_end
    else:
        while source[cut_end:cut_end + 1] in (b";", b" ", b"\t"):
            cut_end += 1
    cut_start = max(cut_start, node.start_byte)
    cut_end = min(cut_end, outer.end_byte)
    if _body_lines(_decode(source[cut_end:outer.end_byte])) < MIN_BODY_LINES:
        return None
    code = source[_code_start(source, outer.start_byte):cut_start] + source[cut_end:outer.end_byte]
    return docstring, _clean_code(code)


_STRING_PREFIX = re.compile(rb"^([A-Za-z]*)('''|\"\"\"|'|\")")


def _string_literal(source: bytes, string: tree_sitter.Node) -> str | None:
    """A Python string node's text, quotes stripped and indentation cleaned as ``help()`` does,
    or None when it cannot be a docstring (bytes, f-strings, template strings)."""
    raw = source[string.start_byte:string.end_byte]
    match = _STRING_PREFIX.match(raw)
    if match is None or set(match.group(1).lower()) & set(b"bft"):
        return None
    quote = match.group(2)
    body = raw[match.end():]
    if body.endswith(quote) and len(body) >= len(quote):
        body = body[:-len(quote)]
    return inspect.cleandoc(_decode(body))


_LICENSE = re.compile(r"copyright|spdx-license|licensed under|license, version|\(c\) \d{4}",
                      re.IGNORECASE)


def _comment_pair(source: bytes, node: tree_sitter.Node,
                  outer: tree_sitter.Node) -> tuple[str, str] | None:
    """(comment, code) for a definition directly preceded by a block comment or by a run of
    line comments, each alone on its line, with no blank line before the definition."""
    comments: list[tree_sitter.Node] = []
    below = outer
    prev = outer.prev_sibling
    while prev is not None and prev.type.endswith("comment"):
        if below.start_point.row - prev.end_point.row > 1:
            break  # a blank line separates them
        if source[_line_start(source, prev.start_byte):prev.start_byte].strip():
            break  # a trailing comment on a line of code
        is_line = source.startswith(b"//", prev.start_byte)
        if comments and (not is_line or not source.startswith(b"//", comments[-1].start_byte)):
            break  # one block comment, or one run of line comments
        comments.append(prev)
        if not is_line:
            break
        below, prev = prev, prev.prev_sibling
    if not comments:
        return None
    docstring = "\n".join(_comment_text(_decode(source[c.start_byte:c.end_byte]))
                          for c in reversed(comments)).strip()
    docstring = inspect.cleandoc(docstring)
    if not _enough_words(docstring) or _LICENSE.search(docstring):
        return None
    body = node.child_by_field_name("body")
    if body is None or _body_lines(_decode(source[body.start_byte:body.end_byte])) < MIN_BODY_LINES:
        return None
    return docstring, _clean_code(source[_code_start(source, outer.start_byte):outer.end_byte])


_BLOCK_LINE = re.compile(r"^\s*\*(?!/) ?")


def _comment_text(comment: str) -> str:
    """A comment without its markers: ``//``, ``///``, ``//!``, ``/*``, ``/**``, ``/*!``,
    ``*/`` and the ``*`` that starts each line of a block comment."""
    if comment.startswith("//"):
        return comment.lstrip("/").removeprefix("!").removeprefix(" ")
    text = comment.removeprefix("/*").removesuffix("*/").lstrip("*!")
    lines = [_BLOCK_LINE.sub("", line) for line in text.splitlines()]
    return "\n".join(lines).strip()


# ---------------------------------------------------------------------------------------------
# Stage functions


def syntax_verdict(result: ParseResult, max_error_ratio: float) -> str | None:
    """None to keep the document, or ``"syntax_error"`` when its error ratio is above
    ``max_error_ratio`` (a share of bytes, 0 to 1; 0 drops any file with an error)."""
    if not 0.0 <= max_error_ratio <= 1.0:
        raise ValueError(f"max_error_ratio must be in [0, 1], got {max_error_ratio!r}")
    return SYNTAX_ERROR if result.error_ratio > max_error_ratio else None


def pair_text(docstring: str, code: str) -> str:
    """The canonical text of a pair record: the docstring, a newline, then the code."""
    return f"{docstring}\n{code}"


def pair_records(record: Record, result: ParseResult, component: str) -> list[Record]:
    """One ``kind="pair"`` record per pair in ``result``, in file order.

    Args:
        record: the code record that was parsed; its lang, repo, path and license are copied.
        result: ``analyze(record.text, record.lang)``.
        component: mixture component the pairs go to (e.g. ``pairs``).

    Returns:
        Records with ``code``, ``docstring``, ``text = pair_text(docstring, code)``, and
        ``meta`` = the source meta (less the file's ``bytes``, ``edits`` and cluster) plus
        ``meta["pair"] = {"source_id", "name", "start_line",
        "end_line"}``; the id hashes ``"{record.id}:{name}:{start_line}"`` and the text.
    """
    out = []
    for pair in result.pairs:
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
