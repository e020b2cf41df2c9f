"""Doc/code pair candidates cut out of a parsed file: where a definition's doc is, and the
definition's code without it.

Python's doc is the string literal that opens the body (``python_docstring``); it is cut
out of the code with the lines it stands on (``docstring_pair``). Every other language's doc
is a comment above the definition, found by position among the comments the walker met
(``DocFinder``): one block comment or one run of line comments, each alone on its line,
directly above the definition or its decorations; with a dedicated doc form (``/**``,
``///``) ordinary comments between doc and definition are stepped over. Rust's
``#[doc = "..."]`` attributes are read too. The doc's text goes to ``docs`` for its first
paragraph; comments that read like a license are never docs.
"""

from __future__ import annotations

import bisect
import functools
import inspect
import re
import textwrap

import tree_sitter

from pipelines.parse import docs
from pipelines.parse.definitions import Spec


def decode(data: bytes) -> str:
    """UTF-8 bytes of the source as text, lone surrogates kept."""
    # Node boundaries fall on code points for valid UTF-8; around invalid bytes (lone
    # surrogates) tree-sitter may split a sequence, hence the fallback.
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def node_text(source: bytes, node: tree_sitter.Node) -> str:
    """The text a node covers."""
    return decode(source[node.start_byte:node.end_byte])


def python_docstring(function: tree_sitter.Node) -> tree_sitter.Node | None:
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


def last_row(node: tree_sitter.Node) -> int:
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
    text = _BLANK_LINES.sub("", decode(raw).strip("\n"))
    indent = text[:len(text) - len(text.lstrip(" \t"))]
    if not indent:
        return text
    if _outdented(indent).search(text) is None:
        return text[len(indent):].replace("\n" + indent, "\n")
    return textwrap.dedent(text).strip("\n")


def docstring_pair(source: bytes, node: tree_sitter.Node, outer: tree_sitter.Node,
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
    return inspect.cleandoc(decode(body))


LICENSE = re.compile(r"copyright|spdx-license|licensed under|license, version|\(c\) \d{4}")
"""Words of a license or copyright notice, matched in lower-cased text (a case-insensitive
pattern is several times slower)."""


def _doc_attributes(source: bytes, decorations: list[tree_sitter.Node],
                    outer: tree_sitter.Node) -> tuple[str | None, int]:
    """(the text of the ``#[doc = "..."]`` attributes among a definition's decorations,
    where its code starts: after the last of them), or (None, 0) when there are none."""
    texts = [docs.rust_doc_attribute(node_text(source, d)) for d in decorations]
    last = max((i for i, text in enumerate(texts) if text is not None), default=-1)
    if last < 0:
        return None, 0
    raw = inspect.cleandoc("\n".join(t for t in texts if t is not None))
    # The decorations below the doc attributes belong to the code, the doc does not.
    start = decorations[last + 1].start_byte if last + 1 < len(decorations) else outer.start_byte
    return raw, start


class DocFinder:
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
            raw = docs.comments_text([node_text(source, c) for c in found])
            code_start = anchor.start_byte
        if LICENSE.search(raw.lower()):
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
            if (last_row(comment) < below_row - 1
                    or source[comment.end_byte:below_start].strip()
                    or source[_line_start(source, comment.start_byte):comment.start_byte].strip()):
                break  # a blank line, code, or code before the comment on its line
            text = node_text(source, comment)
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
