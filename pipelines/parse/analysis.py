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
shared: it visits the levels where definitions live and hands each function to
``candidates``, which finds its doc and cuts it out of the code.

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

import dataclasses
import threading
import time
from typing import NamedTuple

import tree_sitter

from pipelines.parse import candidates, grammars, health
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


def _analyze_tree(tree: tree_sitter.Tree, source: bytes, lang: str) -> ParseResult:
    root = tree.root_node
    spec = SPECS[lang]
    num_bytes = len(source)
    error_bytes = min(num_bytes, health.error_extent(root))
    extracted = bool(spec.functions or spec.classes)
    definitions, comments = _walk(root, spec) if extracted else ([], [])

    comments.sort(key=lambda c: c.start_byte)
    finder = candidates.DocFinder(source, spec, comments)
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
            doc = candidates.python_docstring(node)
            pair = (candidates.docstring_pair(source, node, outer, doc) if doc is not None
                    else None)
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
            return candidates.node_text(source, named)
    declarator = node.child_by_field_name("declarator")
    if declarator is not None:
        while (inner := _inner_declarator(declarator)) is not None:
            declarator = inner
        return candidates.node_text(source, declarator)
    named = node.child_by_field_name("type")  # Rust ``impl Type``
    if named is not None:
        return candidates.node_text(source, named)
    for child in node.named_children:
        if child.type in ("signature", "type_head"):  # Julia: the call or type it heads
            while child.named_child_count and not child.type.endswith("identifier") \
                    and child.type != "field_expression":
                child = child.named_child(0)
            return candidates.node_text(source, child)
        named = child.child_by_field_name("name")  # Go: ``type T struct``'s type_spec
        if named is not None:
            return candidates.node_text(source, named)
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


def _license_header_lines(root: tree_sitter.Node, source: bytes) -> int:
    """Lines of the comments that open the file (one block, or a run of line comments with no
    blank line between them), when they read like a license; else 0."""
    comments: list[tree_sitter.Node] = []
    child = root.child(0) if root.child_count else None
    while child is not None and child.type.endswith("comment"):
        if comments and child.start_point.row - candidates.last_row(comments[-1]) > 1:
            break
        comments.append(child)
        child = child.next_sibling
    if not comments or comments[0].start_point.row > 1:
        return 0
    text = candidates.decode(source[comments[0].start_byte:comments[-1].end_byte])
    licensed = candidates.LICENSE.search(text.lower())
    return candidates.last_row(comments[-1]) + 1 if licensed else 0
