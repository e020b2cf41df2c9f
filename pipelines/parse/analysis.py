"""One parse of one document: syntax health, definitions and doc/code pair candidates.

Each code document is parsed once with its language's grammar (``grammars``), giving:

- **health** (``health``): the error ratio and the parse status;
- **definitions**: every function (methods, constructors, named function expressions) and
  class-like type at the top level and in classes, namespaces and modules (``definitions``
  says why not deeper), by 1-based inclusive line span, including decorators, ``export``
  and ``template`` headers; the top-level ones become the document's syntax spans
  (``pipelines.spans``);
- **pair candidates**: each definition with documentation in its language's form
  (``docs``), the doc read down to its first paragraph and the code without the doc.
  ``pairs.select_pairs`` applies CodeSearchNet's rules to them.

Per-language extraction is a table of node types (``definitions``); the walker here is
shared: it visits the levels where definitions live, finds each definition's doc comment
by position among the comments, and cuts docstrings out of the code.

Pathological input is bounded: a document over ``max_bytes`` is not parsed
(``too_large``), and a parse that runs past ``timeout_s`` is stopped by tree-sitter's
progress callback (``timeout``); both are kept unchecked and counted (the components'
``filters.parse_max_bytes`` and ``filters.parse_timeout_s``). NOTE: the time limit
is the one thing here that depends on the machine, so it is set far above any real file's
parse time (a 500 KB file parses in well under a second); the size cap, which is exact,
bounds the common case. Deep nesting is safe: nothing here recurses.

Threading: ``Language`` objects are read-only and cached per process; a
``Parser`` is stateful, so each ``Parsers`` object owns its own. A Beam DoFn builds one
``Parsers`` in ``setup()`` (Beam runs one DoFn instance per thread); the module-level
``analyze`` uses a thread-local ``Parsers``.

Example::

    parsers = Parsers()                       # DoFn.setup
    result = parsers.analyze(record.text, record.lang, record.path)
    if result is not None:
        reason = syntax_verdict(result, max_error_ratio=0.05)
        pairs = pair_records(record, result, component="pairs")
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import inspect
import re
import textwrap
import threading
import time
from typing import NamedTuple

import tree_sitter

from pipelines.parse import docs, grammars, health
from pipelines.parse.definitions import SPECS, Spec

MAX_PARSE_BYTES = 2_000_000
"""Documents larger than this (UTF-8 bytes) are not parsed (``too_large``); four times the
clean stage's default ``max_chars``."""

PARSE_TIMEOUT_S = 20.0
"""A parse running longer than this, in seconds, is stopped (``timeout``)."""

_CHUNK = 1 << 20
"""Bytes handed to tree-sitter per read callback."""

MIN_PARSE_RATE = 10_000
"""Bytes per second no input parses slower than: tree-sitter's error recovery on garbage
runs at 100-200 KB/s on the 2-core build box, real code at 5-10 MB/s. A document too small
to reach the time limit at this rate is parsed without the progress callback, which costs
about 4% of the parse."""


# ---------------------------------------------------------------------------------------------
# Results


class Span(NamedTuple):
    """A function or class: its name ('' when anonymous) and 1-based inclusive line span."""

    name: str
    start_line: int
    end_line: int


class Pair(NamedTuple):
    """A function and its documentation, before ``pairs.select_pairs`` judges it.

    ``docstring`` is the doc's first paragraph, tags and markup stripped; ``code`` is the
    whole definition, dedented, without the doc.
    """

    name: str
    start_line: int
    end_line: int
    docstring: str
    code: str
    constructor: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ParseResult:
    """What one parse tells about a document; lists are ordered by position in the file.

    Attributes:
        lang: grammar the document was parsed with (``grammars.GRAMMARS`` key).
        num_bytes: UTF-8 size of the document.
        error_bytes: bytes covered by ERROR nodes plus one per MISSING token (at most
            ``num_bytes``).
        error_ratio: ``error_bytes / num_bytes`` (0.0 for an empty or unparsed document).
        has_error: the tree contains any ERROR or MISSING node (tree-sitter's own flag).
        extracted: whether definitions were looked for: False for the health-only
            languages (JSON, YAML, ...) and for documents that were not parsed.
        functions: every function, method, constructor and named function expression at
            the top level or in a class, namespace or module (not inside a function body).
        classes: every class-like type (C: struct with a body; Java: class, interface,
            enum, record; Rust: struct, enum, trait, impl; ...).
        pairs: definitions with a doc, as candidates for ``pairs.select_pairs``.
        header_lines: lines of a leading comment block that reads like a license or
            copyright notice (0 when the file has none).
        status: ``health.PARSED``, ``health.TIMEOUT`` or ``health.TOO_LARGE``.
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
    status: str = health.PARSED

    @property
    def num_functions(self) -> int:
        return len(self.functions)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _unparsed(lang: str, num_bytes: int, status: str) -> ParseResult:
    return ParseResult(lang=lang, num_bytes=num_bytes, error_bytes=0, error_ratio=0.0,
                       has_error=False, extracted=False, functions=(), classes=(), pairs=(),
                       status=status)


# ---------------------------------------------------------------------------------------------
# Parsers


class Parsers:
    """Lazily built tree-sitter parsers, one per grammar; not thread-safe, build one per
    thread (in ``DoFn.setup``).

    Args:
        languages: languages to build now (default: none, each is built on first use). Names
            are validated, so a typo fails at construction, not an hour into a run.
    """

    def __init__(self, languages: tuple[str, ...] | list[str] = ()) -> None:
        self._parsers: dict[str, tree_sitter.Parser] = {}
        for lang in languages:
            if self.get(lang) is None:
                raise ValueError(f"no tree-sitter grammar for {lang!r}; "
                                 f"known: {grammars.LANGUAGES}")

    def get(self, lang: str, path: str = "") -> tree_sitter.Parser | None:
        """The parser for ``lang`` (a file at ``path``), or None when it has no grammar."""
        name = grammars.grammar_name(lang, path)
        if name is None:
            return None
        parser = self._parsers.get(name)
        if parser is None:
            parser = self._parsers[name] = tree_sitter.Parser(grammars.language(name))
        return parser

    def parse(self, source: bytes, lang: str, path: str = "",
              timeout_s: float = PARSE_TIMEOUT_S) -> tree_sitter.Tree | None:
        """The tree of ``source``, or None when the parse ran past ``timeout_s`` seconds (or
        ``lang`` has no grammar)."""
        parser = self.get(lang, path)
        if parser is None:
            return None
        if len(source) < timeout_s * MIN_PARSE_RATE:
            return parser.parse(source)
        deadline = time.monotonic() + timeout_s
        try:
            # NOTE: tree-sitter honours the progress callback only for sources read through
            # a callback, hence the reader over ``source``.
            return parser.parse(lambda offset, _point: source[offset:offset + _CHUNK],
                                progress_callback=lambda _offset, _errors:
                                time.monotonic() > deadline)
        except ValueError:  # "Parsing failed": the callback stopped it
            parser.reset()  # else the next parse would resume this one
            return None

    def analyze(self, text: str, lang: str, path: str = "", *,
                max_bytes: int = MAX_PARSE_BYTES,
                timeout_s: float = PARSE_TIMEOUT_S) -> ParseResult | None:
        """Parse ``text`` as ``lang``; see the module-level ``analyze``."""
        name = grammars.grammar_name(lang, path)
        if name is None:
            return None
        source = text.encode("utf-8", "surrogatepass")
        if len(source) > max_bytes:
            return _unparsed(name, len(source), health.TOO_LARGE)
        tree = self.parse(source, name, timeout_s=timeout_s)
        if tree is None:
            return _unparsed(name, len(source), health.TIMEOUT)
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


def analyze(text: str, lang: str, path: str = "", *, parsers: Parsers | None = None,
            max_bytes: int = MAX_PARSE_BYTES,
            timeout_s: float = PARSE_TIMEOUT_S) -> ParseResult | None:
    """Parse a document and measure it; never raises on any text.

    Args:
        text: the document (lone surrogates from ``surrogateescape`` decoding are kept).
        lang: language name, see ``grammars.canonical_language``.
        path: the file's path; only its ``.tsx`` suffix matters (``grammars.grammar_name``).
        parsers: the ``Parsers`` to use (a DoFn passes its own); default: this thread's.
        max_bytes: a document larger than this many UTF-8 bytes is not parsed
            (``too_large``); default ``MAX_PARSE_BYTES``.
        timeout_s: a parse running longer than this many seconds is stopped
            (``timeout``); default ``PARSE_TIMEOUT_S``.

    Returns:
        A ``ParseResult``, or None when ``lang`` has no grammar.
    """
    return (parsers or _thread_parsers()).analyze(text, lang, path, max_bytes=max_bytes,
                                                  timeout_s=timeout_s)


# ---------------------------------------------------------------------------------------------
# The shared walker


def _decode(data: bytes) -> str:
    # Node boundaries fall on code points for valid UTF-8; around invalid bytes (lone
    # surrogates) tree-sitter may split a sequence, hence the fallback.
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def _text(source: bytes, node: tree_sitter.Node) -> str:
    return _decode(source[node.start_byte:node.end_byte])


def _analyze_tree(tree: tree_sitter.Tree, source: bytes, lang: str) -> ParseResult:
    root = tree.root_node
    spec = SPECS[lang]
    num_bytes = len(source)
    error_bytes = min(num_bytes, health.error_extent(root))
    extracted = bool(spec.functions or spec.classes)
    definitions, comments = _walk(root, spec) if extracted else ([], [])

    comments.sort(key=lambda c: c.start_byte)
    finder = _DocFinder(source, spec, comments)
    functions: list[tuple[int, int, Span]] = []
    classes: list[tuple[int, int, Span]] = []
    pairs: list[tuple[int, int, Pair]] = []
    for kind, node, named in definitions:
        name = _name(named, source)
        outer = node
        if spec.wrappers:
            parent = outer.parent
            while parent is not None and parent.type in spec.wrappers:
                outer, parent = parent, parent.parent
        span = Span(name, outer.start_point.row + 1, outer.end_point.row + 1)
        order = (outer.start_byte, -outer.end_byte)
        if kind == "class":
            classes.append((*order, span))
            continue
        functions.append((*order, span))
        if not spec.docs:
            continue
        if spec.docs == "python":
            doc = _python_docstring(node)
            pair = _docstring_pair(source, node, outer, doc) if doc is not None else None
        else:
            pair = finder.pair(outer)
        if pair is not None:
            docstring, code = pair
            constructor = name in spec.constructors or node.type in spec.constructor_types
            pairs.append((*order, Pair(name, span.start_line, span.end_line, docstring, code,
                                       constructor)))

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


def _walk(root: tree_sitter.Node, spec: Spec
          ) -> tuple[list[tuple[str, tree_sitter.Node, tree_sitter.Node]],
                     list[tree_sitter.Node]]:
    """The definitions and comments at the levels ``definitions`` describes: ``(kind, node,
    node that holds the name)`` (the name holder differs for ``const f = () => ...``) and
    comment nodes, unordered. Iterative: deep trees are fine."""
    definitions: list[tuple[str, tree_sitter.Node, tree_sitter.Node]] = []
    comments: list[tree_sitter.Node] = []
    stack = [root]
    while stack:
        for child in stack.pop().children:
            kind = child.type
            if kind in spec.functions:
                if not spec.needs_body or child.child_by_field_name("body") is not None:
                    definitions.append(("function", child, child))
            elif kind in spec.classes:
                if not spec.needs_body or child.child_by_field_name("body") is not None:
                    definitions.append(("class", child, child))
                    stack.append(child)
            elif kind in spec.function_values:
                name_field, value_field = spec.function_values[kind]
                value = child.child_by_field_name(value_field)
                if value is not None and value.type in spec.function_expressions:
                    definitions.append(("function", value, child))
            elif kind in spec.containers or child.is_error:
                # An ERROR node is entered too: a file broken after its first definitions
                # still has them.
                stack.append(child)
            elif kind in spec.comments:
                comments.append(child)
    return definitions, comments


_NAME_FIELDS = ("name", "left")


def _name(node: tree_sitter.Node, source: bytes) -> str:
    """A definition's name ('' when it has none); see ``definitions`` for the rules."""
    for field in _NAME_FIELDS:
        named = node.child_by_field_name(field)
        if named is not None:
            return _text(source, named)
    declarator = node.child_by_field_name("declarator")
    if declarator is not None:
        while (inner := _inner_declarator(declarator)) is not None:
            declarator = inner
        return _text(source, declarator)
    named = node.child_by_field_name("type")  # Rust ``impl Type``
    if named is not None:
        return _text(source, named)
    for child in node.named_children:
        if child.type in ("signature", "type_head"):  # Julia: the call or type it heads
            while child.named_child_count and not child.type.endswith("identifier") \
                    and child.type != "field_expression":
                child = child.named_child(0)
            return _text(source, child)
        named = child.child_by_field_name("name")  # Go: ``type T struct``'s type_spec
        if named is not None:
            return _text(source, named)
    return ""


def _inner_declarator(declarator: tree_sitter.Node) -> tree_sitter.Node | None:
    """The declarator inside a C/C++ declarator (``*f``, ``&f``, ``f(...)``), if any."""
    inner = declarator.child_by_field_name("declarator")
    if inner is not None:
        return inner
    for child in declarator.named_children:
        if child.type.endswith("declarator"):
            return child
    return None


def _python_docstring(function: tree_sitter.Node) -> tree_sitter.Node | None:
    """The string literal that opens a Python function's body, if any."""
    body = function.child_by_field_name("body")
    statement = body.named_child(0) if body is not None and body.named_child_count else None
    while statement is not None and statement.type == "comment":
        statement = statement.next_named_sibling
    if (statement is not None and statement.type == "expression_statement"
            and statement.named_child_count == 1):
        string = statement.named_child(0)
        if string.type == "string":
            return string
    return None


def _license_header_lines(root: tree_sitter.Node, source: bytes) -> int:
    """Lines of the comments that open the file (one block, or a run of line comments with no
    blank line between them), when they read like a license; else 0."""
    comments: list[tree_sitter.Node] = []
    child = root.child(0) if root.child_count else None
    while child is not None and child.type.endswith("comment"):
        if comments and child.start_point.row - _last_row(comments[-1]) > 1:
            break
        comments.append(child)
        child = child.next_sibling
    if not comments or comments[0].start_point.row > 1:
        return 0
    text = _decode(source[comments[0].start_byte:comments[-1].end_byte])
    return _last_row(comments[-1]) + 1 if _LICENSE.search(text.lower()) else 0


def _last_row(node: tree_sitter.Node) -> int:
    """0-based row of a node's last character (some grammars end a line comment after its
    newline, at column 0 of the next row)."""
    end = node.end_point
    return end.row - 1 if end.column == 0 and end.row > node.start_point.row else end.row


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


_BLANK_LINES = re.compile(r"^[ \t]+$", re.MULTILINE)


@functools.lru_cache(maxsize=64)
def _outdented(indent: str) -> re.Pattern:
    """Matches a line break followed by a line that is neither blank nor indented by at
    least ``indent``."""
    return re.compile("\n(?!" + re.escape(indent) + "|\n|$)")


def _clean_code(raw: bytes) -> str:
    """A definition's code, dedented and without blank lines around it: what
    ``textwrap.dedent`` gives, by a cheaper path. The first line of valid code is its least
    indented, so when every other line is blank or starts with that line's indentation,
    dedenting is cutting it; anything else goes to ``dedent``."""
    text = _BLANK_LINES.sub("", _decode(raw).strip("\n"))
    indent = text[:len(text) - len(text.lstrip(" \t"))]
    if not indent:
        return text
    if _outdented(indent).search(text) is None:
        return text[len(indent):].replace("\n" + indent, "\n")
    return textwrap.dedent(text).strip("\n")


def _docstring_pair(source: bytes, node: tree_sitter.Node, outer: tree_sitter.Node,
                    doc: tree_sitter.Node) -> tuple[str, str] | None:
    """(docstring, code without it) for a function whose body starts with a string literal."""
    text = _string_literal(source, doc)
    if text is None:
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
    code = source[_code_start(source, outer.start_byte):cut_start] + source[cut_end:outer.end_byte]
    return docs.first_paragraph(text, "python"), _clean_code(code)


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


_LICENSE = re.compile(r"copyright|spdx-license|licensed under|license, version|\(c\) \d{4}")
"""Words of a license or copyright notice, matched in lower-cased text (a case-insensitive
pattern is several times slower)."""


def _doc_attributes(source: bytes, decorations: list[tree_sitter.Node],
                    outer: tree_sitter.Node) -> tuple[str | None, int]:
    """(the text of the ``#[doc = "..."]`` attributes among a definition's decorations,
    where its code starts: after the last of them), or (None, 0) when there are none."""
    texts = [docs.rust_doc_attribute(_text(source, d)) for d in decorations]
    last = max((i for i, text in enumerate(texts) if text is not None), default=-1)
    if last < 0:
        return None, 0
    raw = inspect.cleandoc("\n".join(t for t in texts if t is not None))
    # The decorations below the doc attributes belong to the code, the doc does not.
    start = decorations[last + 1].start_byte if last + 1 < len(decorations) else outer.start_byte
    return raw, start


class _DocFinder:
    """Finds the doc comment above a definition, by position among the file's comments.

    A doc is one block comment or a run of line comments, each alone on its line, ending on
    the line above the definition (or above its decorations). In a language with a
    dedicated doc form (``/**``, ``///``), ordinary comments between the doc and the
    definition are stepped over; where every comment is a doc (C, Go, Ruby), they are part
    of the run.
    """

    def __init__(self, source: bytes, spec: Spec, comments: list[tree_sitter.Node]) -> None:
        self._source = source
        self._spec = spec
        self._form = docs.DOC_FORMS.get(spec.docs)
        self._comments = comments
        self._ends = [c.end_byte for c in comments]

    def pair(self, outer: tree_sitter.Node) -> tuple[str, str] | None:
        """(doc's first paragraph, code) for a definition, or None when it has no doc."""
        source = self._source
        decorations = self._decorations(outer) if self._spec.decorations else []
        raw, code_start = _doc_attributes(source, decorations, outer) if decorations \
            else (None, 0)
        if raw is None:
            anchor = decorations[0] if decorations else outer
            found = self._comments_above(anchor)
            if not found:
                return None
            raw = docs.comments_text([_text(source, c) for c in found])
            code_start = anchor.start_byte
        if _LICENSE.search(raw.lower()):
            return None
        doc = docs.first_paragraph(raw, self._spec.docs)
        return doc, _clean_code(source[_code_start(source, code_start):outer.end_byte])

    def _decorations(self, outer: tree_sitter.Node) -> list[tree_sitter.Node]:
        """The decoration siblings right above a definition, in file order."""
        found = []
        prev = outer.prev_sibling
        while prev is not None and prev.type in self._spec.decorations:
            found.append(prev)
            prev = prev.prev_sibling
        return found[::-1]

    def _comments_above(self, anchor: tree_sitter.Node) -> list[tree_sitter.Node]:
        """The doc comment nodes above ``anchor``, in file order (empty: no doc).

        The comments directly above (each alone on its line, no blank line between) fall
        into groups: one block comment, or one run of line comments of the same kind. With
        a dedicated doc form the nearest doc group is the doc; where every comment is a doc,
        the topmost group is, and the ones below it are notes between doc and definition.
        """
        source, form = self._source, self._form
        groups: list[tuple[bool, bool, list[tree_sitter.Node]]] = []  # (line, doc, nodes)
        below_row, below_start = anchor.start_point.row, anchor.start_byte
        i = bisect.bisect_right(self._ends, below_start) - 1
        if i < 0 or self._comments[i].end_point.row < below_row - 1:
            return []  # most definitions: no comment ends on the line above
        while i >= 0:
            comment = self._comments[i]
            if (_last_row(comment) < below_row - 1
                    or source[comment.end_byte:below_start].strip()
                    or source[_line_start(source, comment.start_byte):comment.start_byte].strip()):
                break  # a blank line, code, or code before the comment on its line
            text = _text(source, comment)
            line, doc = form.is_line(text), form.is_doc(text)
            if groups and line and groups[-1][:2] == (True, doc):
                groups[-1][2].append(comment)
            else:
                groups.append((line, doc, [comment]))
            below_row, below_start = comment.start_point.row, comment.start_byte
            i -= 1
        docs_found = [nodes for _, doc, nodes in groups if doc]
        if not docs_found:
            return []
        nodes = docs_found[0] if form.prefixes else docs_found[-1]
        return nodes[::-1]
