"""Doc comments in each language's own form, read down to the text a pair keeps.

CodeSearchNet (Husain et al., 2019, "CodeSearchNet Challenge") pairs a function with the
first paragraph of its documentation, tags and markup removed; CodeT5+ trains its bimodal
objectives on those pairs. The forms read here:

- ``python``: the docstring (a string literal first in the body), cleaned as ``help()``
  does; reST roles (``:func:`x```) and literals keep their text.
- ``javadoc``: a ``/** ... */`` comment above the definition (Javadoc, JSDoc/TSDoc,
  PHPDoc); ``{@link X}`` and ``{@code x}`` keep their text, HTML tags go.
- ``xmldoc``: C#'s ``///`` lines (or ``/** */``); the ``<summary>`` text when there is one,
  ``<see cref="X"/>`` as ``X``, other tags removed.
- ``rust``: ``///`` lines or ``/** */`` above the item, or ``#[doc = "..."]`` attributes;
  Markdown code spans and links keep their text.
- ``go``: the ``//`` (or ``/* */``) comment directly above, Go's doc-comment convention.
- ``ruby``: the ``#`` lines (RDoc, YARD) or ``=begin``/``=end`` block above.
- ``doxygen``: C and C++, where plain comments above a function are its documentation as
  often as Doxygen's ``/**``, ``/*!``, ``///`` and ``//!`` are; all are read, and Doxygen
  commands (``\\brief``, ``@param``) are handled like Javadoc tags.

In every form the first paragraph ends at a blank line or at the first block tag
(``@param``, ``\\return``, ``:param``, ``Args:``, ...), which is where CodeSearchNet's
"first paragraph" ends in practice.
"""

from __future__ import annotations

import dataclasses
import inspect
import re


@dataclasses.dataclass(frozen=True, slots=True)
class DocForm:
    """How one language marks its documentation comments.

    Attributes:
        prefixes: comment openings that make a comment a doc comment (``/**``, ``///``);
            empty: every comment directly above a definition is its doc.
        line_prefix: the opening of a line comment, which may run over several lines.
    """

    prefixes: tuple[str, ...] = ()
    line_prefix: str = "//"

    def is_doc(self, comment: str) -> bool:
        """Whether ``comment`` (its full text) is a doc comment in this form; ``////`` and
        ``/***`` are ordinary comments where ``///`` and ``/**`` are docs."""
        if not self.prefixes:
            return True
        return any(comment.startswith(p) and comment[len(p):len(p) + 1] != p[-1]
                   for p in self.prefixes)

    def is_line(self, comment: str) -> bool:
        """Whether ``comment`` is a line comment, which joins the lines around it."""
        return comment.startswith(self.line_prefix)


DOC_FORMS: dict[str, DocForm] = {
    "python": DocForm(),
    "javadoc": DocForm(prefixes=("/**",)),
    "xmldoc": DocForm(prefixes=("///", "/**")),
    "rust": DocForm(prefixes=("///", "/**")),
    "go": DocForm(),
    "ruby": DocForm(line_prefix="#"),
    "doxygen": DocForm(),
}
"""Doc form name (``definitions.Spec.docs``) -> its ``DocForm``."""


_BLOCK_LINE = re.compile(r"^[ \t]*\*(?!/) ?", re.MULTILINE)


def comment_text(comment: str) -> str:
    """A comment without its markers: ``//``, ``///``, ``//!``, ``#``, ``/*``, ``/**``,
    ``/*!``, ``*/``, ``=begin``/``=end`` and the ``*`` that starts each line of a block."""
    if comment.startswith("//"):
        return comment.lstrip("/").removeprefix("!").removeprefix(" ").rstrip("\r\n")
    if comment.startswith("=begin"):
        return comment.removeprefix("=begin").rstrip().removesuffix("=end").strip("\n")
    if comment.startswith("#"):
        return comment.lstrip("#").removeprefix(" ").rstrip("\r\n")
    text = comment.removeprefix("/*").removesuffix("*/").lstrip("*!")
    return _BLOCK_LINE.sub("", text.replace("\r\n", "\n")).strip()


def comments_text(comments: list[str]) -> str:
    """The text of a doc made of one block comment or a run of line comments, in order,
    indentation cleaned."""
    return inspect.cleandoc("\n".join(comment_text(c) for c in comments))


_RUST_DOC_ATTRIBUTE = re.compile(r'#\[doc\s*=\s*"((?:[^"\\]|\\.)*)"\s*\]', re.DOTALL)


def rust_doc_attribute(attribute: str) -> str | None:
    """The text of a ``#[doc = "..."]`` attribute, or None for any other attribute."""
    match = _RUST_DOC_ATTRIBUTE.fullmatch(attribute.strip())
    if match is None:
        return None
    return match.group(1).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


# A block tag: ``@param``, ``\\return``, ``:param x:``, ``Args:``; Doxygen's ``\\brief``
# and ``@brief`` only introduce the summary, so they are not tags.
_TAG_LINE = re.compile(
    r"^\s*(?:[@\\](?!brief\b|short\b|summary\b)[A-Za-z]+\b"
    r"|:(?:param|parameter|arg|argument|key|keyword|type|raises?|except|exception|returns?|"
    r"rtype|yields?|var|ivar|cvar)\b"
    r"|(?:Args|Arguments|Parameters|Params|Returns|Return|Raises|Yields|Examples?|Note|"
    r"Notes|See Also|Attributes|Todo|Warning|Warnings)\s*:?\s*$)")
_BRIEF = re.compile(r"^\s*[@\\](?:brief|short|summary)\b\s*")
_SUMMARY = re.compile(r"<summary>(.*?)</summary>", re.DOTALL | re.IGNORECASE)
_INLINE_TAG = re.compile(r"\{@\w+\s*([^}]*)\}")
_XML_REF = re.compile(r"<(?:see|seealso|paramref|typeparamref)\s+\w+\s*=\s*\"([^\"]*)\"\s*/>")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\([^()]*\)")
_INTRA_LINK = re.compile(r"\[(`[^`\[\]]+`)\]")
_REST_ROLE = re.compile(r":[\w:+-]+:`([^`]*)`")
_CODE_SPAN = re.compile(r"``?([^`]+)``?")
_REST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`_")
_RDOC = re.compile(r"(?<![\w+*])([+*_])(\w[\w.:#?!]*)\1(?![\w+*])")


def first_paragraph(text: str, form: str) -> str:
    """The first paragraph of a doc's text (comment markers already removed), with tags and
    markup stripped, lines trimmed and blank-free; '' when nothing is left.

    Args:
        text: the doc, e.g. ``comments_text(...)`` or a cleaned docstring.
        form: its doc form (``DOC_FORMS`` key): ``xmldoc`` reads ``<summary>`` first.
    """
    if form == "xmldoc":
        summary = _SUMMARY.search(text)
        if summary is not None:
            text = summary.group(1)
    lines: list[str] = []
    for line in text.splitlines():
        if _TAG_LINE.match(line):
            break
        line = _BRIEF.sub("", line).strip()
        if not line:
            if lines:
                break
            continue
        lines.append(line)
    text = "\n".join(lines)
    if form == "ruby":
        text = _RDOC.sub(r"\2", text)  # RDoc's +code+, *bold* and _emphasis_ words
    return strip_markup(text)


def strip_markup(text: str) -> str:
    """Inline markup removed, its text kept: Javadoc inline tags, C# references, HTML/XML
    tags, Markdown links and code spans, reST roles, literals and links."""
    # Each pass only where its marker occurs: most docs are plain text.
    if "{@" in text:
        text = _INLINE_TAG.sub(lambda m: m.group(1).split("#")[-1].strip(), text)
    if "<" in text:
        text = _XML_REF.sub(lambda m: m.group(1).split(":")[-1], text)
        text = _HTML_TAG.sub("", text)
    if "[" in text:
        text = _MD_LINK.sub(r"\1", text)
        text = _INTRA_LINK.sub(r"\1", text)
    if "`" in text:
        text = _REST_LINK.sub(r"\1", text)
        text = _REST_ROLE.sub(r"\1", text)
        text = _CODE_SPAN.sub(r"\1", text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()
