"""Quality heuristics for code (StarCoder) and prose (Gopher).

Code gets the filters StarCoder used on The Stack (Li et al. 2023, "StarCoder: may the
source be with you!", section 3; bigcode-dataset ``preprocessing/filtering.py`` and its
per-extension table ``visual_inspection.csv``): longest and mean line length (minified
code, embedded data), share of alphanumeric characters (tables of numbers), the XML,
HTML and JSON/YAML rules for data formats, and SantaCoder's comment-share bounds.
Prose gets Gopher's quality filters (Rae et al. 2021, appendix A.1.1): word count, mean
word length, ``#`` and ellipsis per word, share of words with a letter, repeated lines,
bullet and ellipsis lines.

Every heuristic is a small pure function returning None or a ``Verdict``: its own drop
reason, so stats count each under its own name, and the value it measured against the
bound it broke, for the drop log. ``quality_verdict`` runs the ones for the record's kind
and returns the first verdict. All thresholds live in ``FilterSpec``.

Trade-off: everything is a character-level scan, linear in the document and free of
parsers, so it never raises on odd input. The comment scanner knows each language
family's comment markers and string quotes but no grammar: it is right on ordinary code
(``"http://"`` inside a string is not a comment; a Python docstring is one) and only
approximate on exotic syntax (heredocs, raw strings), which moves a share by a little.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import re
from collections.abc import Callable

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, FilterSpec
from pipelines.records import Record

CODE_REASONS = ("xml_data", "html_markup", "data_size", "low_alpha", "long_lines",
                "long_mean_line", "low_alnum", "few_comments", "mostly_comments")
"""Drop reasons of the code heuristics, in the order they are checked."""

PROSE_REASONS = ("too_few_words", "too_many_words", "short_words", "long_words", "symbols",
                 "non_alphabetic", "repeated_lines", "bullets", "ellipsis")
"""Drop reasons of the prose heuristics, in the order they are checked."""

REASONS = CODE_REASONS + PROSE_REASONS
"""Every reason ``quality_verdict`` can return."""

_XML_DECLARATION = "<?xml version="
_XML_EXEMPT = ("xslt",)
"""XSLT is XML by design; StarCoder's XML rule spared it."""
_BULLETS = ("•", "‣", "◦", "⁃", "▪", "●", "-", "*")
_ELLIPSES = ("...", "…")


# --- measures -----------------------------------------------------------------------------

def longest_line(text: str) -> int:
    """Length of the longest line, in characters (0 for empty text)."""
    return max(map(len, text.splitlines()), default=0)


def mean_line_length(text: str) -> float:
    """Mean line length in characters, line breaks excluded (0 for empty text)."""
    lines = text.splitlines()
    return sum(map(len, lines)) / len(lines) if lines else 0.0


def alnum_fraction(text: str) -> float:
    """Share of characters that are alphanumeric, whitespace included in the total (0 for
    empty text), as StarCoder computes it."""
    return sum(map(str.isalnum, text)) / len(text) if text else 0.0


def alpha_fraction(text: str) -> float:
    """Share of characters that are alphabetic (0 for empty text)."""
    return sum(map(str.isalpha, text)) / len(text) if text else 0.0


@dataclasses.dataclass(frozen=True)
class CommentSyntax:
    """What a comment scanner must know of a language family.

    Attributes:
        line: markers that comment out the rest of the line. ``#`` counts only at the
            start of a line or after whitespace (so ``${#x}`` in shell and ``a#b`` in YAML
            are not comments).
        block: (opening, closing) pairs of block comments.
        quotes: characters that open and close a string on one line; a string left open
            ends at the line break, so one stray quote cannot swallow the file.
        long_quotes: delimiters of strings that may span lines (``\"\"\"``, backticks).
        docstrings: a long-quoted string that starts its line is a comment (Python).
    """

    line: tuple[str, ...] = ()
    block: tuple[tuple[str, str], ...] = ()
    quotes: str = ""
    long_quotes: tuple[str, ...] = ()
    docstrings: bool = False


_HASH = CommentSyntax(line=("#",), quotes="'\"")
_C = CommentSyntax(line=("//",), block=(("/*", "*/"),), quotes="'\"")
_C_BACKTICK = dataclasses.replace(_C, long_quotes=("`",))
_C_TRIPLE = dataclasses.replace(_C, long_quotes=('"""',))
_DASH = CommentSyntax(line=("--",), block=(("/*", "*/"),), quotes="'\"")
_MARKUP = CommentSyntax(block=(("<!--", "-->"),))

COMMENT_SYNTAX: dict[str, CommentSyntax] = {
    "python": CommentSyntax(line=("#",), quotes="'\"", long_quotes=('"""', "'''"),
                            docstrings=True),
    **dict.fromkeys(("shell", "ruby", "perl", "r", "julia", "elixir", "makefile",
                     "dockerfile", "cmake", "nim"), _HASH),
    "powershell": dataclasses.replace(_HASH, block=(("<#", "#>"),)),
    # Apostrophes are common in plain YAML scalars: only double-quoted strings are tracked.
    "yaml": CommentSyntax(line=("#",), quotes='"'),
    "toml": CommentSyntax(line=("#",), quotes="'\"", long_quotes=('"""', "'''")),
    **dict.fromkeys(("c", "cpp", "objective-c", "solidity", "zig", "protobuf"), _C),
    # Rust's lifetimes ('a) are not strings.
    "rust": dataclasses.replace(_C, quotes='"'),
    **dict.fromkeys(("javascript", "typescript", "go"), _C_BACKTICK),
    **dict.fromkeys(("java", "csharp", "kotlin", "scala", "swift", "groovy"), _C_TRIPLE),
    "dart": dataclasses.replace(_C, long_quotes=('"""', "'''")),
    "php": dataclasses.replace(_C, line=("//", "#")),
    "css": CommentSyntax(block=(("/*", "*/"),), quotes="'\""),
    "sql": _DASH,
    # Haskell's primes (x') are not strings.
    "haskell": dataclasses.replace(_DASH, block=(("{-", "-}"),), quotes='"'),
    "lua": CommentSyntax(line=("--",), block=(("--[[", "]]"),), quotes="'\"",
                         long_quotes=("[[",)),
    **dict.fromkeys(("html", "xml", "vue", "svelte"), _MARKUP),
}
"""Language -> comment syntax; languages not listed (JSON, Markdown, ...) have no comment
share and skip the comment rules."""

_LONG_QUOTE_END = {"[[": "]]"}
"""Long-string delimiters whose closing differs from the opening."""


@functools.cache
def _token_pattern(syntax: CommentSyntax) -> re.Pattern[str]:
    """One regex finding the next comment or string opening; longest tokens first, so
    ``--[[`` wins over ``--`` and ``\"\"\"`` over ``\"``."""
    tokens = sorted({*syntax.line, *(o for o, _ in syntax.block), *syntax.quotes,
                     *syntax.long_quotes}, key=len, reverse=True)
    return re.compile("|".join(r"(?<!\S)#" if t == "#" else re.escape(t) for t in tokens))


@functools.cache
def _string_stop(closer: str, multiline: bool) -> re.Pattern[str]:
    """What ends a scan inside a string: its closer, a backslash (skip the next
    character), and, for a one-line string, the line break."""
    return re.compile("|".join([re.escape(closer), r"\\"] + ([] if multiline else ["\n"])))


def _string_end(text: str, pos: int, closer: str, multiline: bool) -> int:
    """Index just past the string whose body starts at ``pos``."""
    stop = _string_stop(closer, multiline)
    while (m := stop.search(text, pos)) is not None:
        if m.group() == "\\":
            pos = m.end() + 1
        elif m.group() == "\n":
            return m.start()  # unterminated: the line break is scanned again as code
        else:
            return m.end()
    return len(text)


def _starts_line(text: str, pos: int) -> bool:
    """True when only indentation and a string prefix (``r``, ``b``, ...) precede ``pos``
    on its line: a string there is a statement of its own, i.e. a docstring.

    Walks back over the indentation only (never to the line start through code), so a
    line of many strings costs no more than its length.
    """
    i = pos
    while i > 0 and pos - i < 2 and text[i - 1] in "rRuUbBfF":
        i -= 1
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    return i == 0 or text[i - 1] in "\r\n"


def comment_chars(text: str, syntax: CommentSyntax) -> int:
    """Number of characters inside comments (markers included), strings skipped."""
    if not (syntax.line or syntax.block):
        return 0
    pattern = _token_pattern(syntax)
    blocks = dict(syntax.block)
    count, pos, n = 0, 0, len(text)
    while (m := pattern.search(text, pos)) is not None:
        token, start = m.group(), m.start()
        if token in blocks:
            end = text.find(blocks[token], m.end())
            pos = n if end < 0 else end + len(blocks[token])
            count += pos - start
        elif token in syntax.line:
            end = text.find("\n", m.end())
            pos = n if end < 0 else end
            count += pos - start
        elif token in syntax.long_quotes:
            pos = _string_end(text, m.end(), _LONG_QUOTE_END.get(token, token), True)
            if syntax.docstrings and _starts_line(text, start):
                count += pos - start
        else:
            pos = _string_end(text, m.end(), token, False)
    return count


def comment_fraction(text: str, lang: str) -> float | None:
    """Share of the characters that are comments (SantaCoder's comment-to-code ratio:
    comment characters over all characters), or None when the language's comments are
    not known or the text is empty."""
    syntax = COMMENT_SYNTAX.get(lang)
    if syntax is None or not text:
        return None
    return comment_chars(text, syntax) / len(text)


_RAW_TEXT_TAG = re.compile(r"<(script|style)(?=[\s/>])", re.I)
_RAW_TEXT_END = {"script": re.compile(r"</script", re.I), "style": re.compile(r"</style", re.I)}
_TAG_START = re.compile(r"<[A-Za-z/!?]")


def visible_text(markup: str) -> str:
    """The text a browser shows: markup without tags, comments, scripts and styles, with
    entities decoded. Whitespace between tags is kept, as in BeautifulSoup's
    ``get_text`` that StarCoder used. A ``<`` not opening a tag is text; an unclosed tag
    or script runs to the end."""
    parts, pos, n = [], 0, len(markup)
    while (m := _TAG_START.search(markup, pos)) is not None:
        parts.append(markup[pos:m.start()])
        start = m.start()
        if markup.startswith("<!--", start):
            end = markup.find("-->", start + 4)
            pos = n if end < 0 else end + 3
            continue
        raw = _RAW_TEXT_TAG.match(markup, start)
        if raw is not None:
            close = _RAW_TEXT_END[raw.group(1).lower()].search(markup, raw.end())
            start = n if close is None else close.start()
        end = markup.find(">", start)
        pos = n if end < 0 else end + 1
    parts.append(markup[pos:])
    return html.unescape("".join(parts))


@dataclasses.dataclass(frozen=True)
class Prose:
    """A prose document split once for all prose heuristics.

    Attributes:
        text: the document.
        words: whitespace-separated tokens (Gopher's words; punctuation stays attached).
        lines: the non-blank lines, stripped of surrounding whitespace.
    """

    text: str
    words: list[str]
    lines: list[str]

    @classmethod
    def of(cls, text: str) -> "Prose":
        return cls(text, text.split(), [s for s in map(str.strip, text.splitlines()) if s])


# --- verdicts -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Verdict:
    """A heuristic that failed: the drop reason, and for the drop log what was measured
    against which bound, e.g. ``mean_line_chars 143.2 > 100 (max_mean_line_chars)``."""

    reason: str
    detail: str


def _num(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _failed(reason: str, measure: str, value: float, op: str, bound: float,
            setting: str) -> Verdict:
    return Verdict(reason, f"{measure} {_num(value)} {op} {_num(bound)} ({setting})")


# --- code heuristics ----------------------------------------------------------------------

def xml_verdict(text: str, lang: str, spec: FilterSpec) -> Verdict | None:
    """``xml_data`` for a file that opens with an XML declaration (data or generated
    markup, in whatever language it is filed under), XSLT excepted."""
    if spec.xml_head_chars and lang not in _XML_EXEMPT:
        at = text.find(_XML_DECLARATION, 0, spec.xml_head_chars)
        if at >= 0:
            return _failed("xml_data", "xml_declaration_at", at, "<", spec.xml_head_chars,
                           "xml_head_chars")
    return None


def html_verdict(text: str, lang: str, spec: FilterSpec) -> Verdict | None:
    """``html_markup`` for HTML that is mostly boilerplate: too little visible text, in
    characters or as a share of the file."""
    if lang != "html":
        return None
    shown = len(visible_text(text))
    if shown < spec.html_min_text_chars:
        return _failed("html_markup", "visible_chars", shown, "<", spec.html_min_text_chars,
                       "html_min_text_chars")
    if shown < spec.html_min_text_fraction * len(text):
        return _failed("html_markup", "visible_fraction", shown / len(text), "<",
                       spec.html_min_text_fraction, "html_min_text_fraction")
    return None


def data_size_verdict(text: str, lang: str, spec: FilterSpec) -> Verdict | None:
    """``data_size`` for a data-format file (JSON, YAML) outside the size window: the
    large ones are data dumps, the tiny ones say nothing."""
    if lang not in spec.data_languages:
        return None
    if len(text) < spec.data_min_chars:
        return _failed("data_size", "chars", len(text), "<", spec.data_min_chars,
                       "data_min_chars")
    if len(text) > spec.data_max_chars:
        return _failed("data_size", "chars", len(text), ">", spec.data_max_chars,
                       "data_max_chars")
    return None


def data_alpha_verdict(text: str, lang: str, spec: FilterSpec) -> Verdict | None:
    """``low_alpha`` for a data-format file that is mostly numbers and punctuation."""
    if lang in spec.data_languages:
        share = alpha_fraction(text)
        if share < spec.data_min_alpha_fraction:
            return _failed("low_alpha", "alpha_fraction", share, "<",
                           spec.data_min_alpha_fraction, "data_min_alpha_fraction")
    return None


def line_length_verdict(text: str, lang: str, spec: FilterSpec) -> Verdict | None:
    """``long_lines`` for code with a line longer than ``max_line_chars`` (minified
    code, embedded blobs), unless its language is exempt."""
    if lang not in spec.long_line_exempt:
        longest = longest_line(text)
        if longest > spec.max_line_chars:
            return _failed("long_lines", "longest_line_chars", longest, ">",
                           spec.max_line_chars, "max_line_chars")
    return None


def mean_line_verdict(text: str, lang: str, spec: FilterSpec) -> Verdict | None:
    """``long_mean_line`` for code whose lines are long on average, unless its language
    is exempt."""
    if lang not in spec.long_line_exempt:
        mean = mean_line_length(text)
        if mean > spec.max_mean_line_chars:
            return _failed("long_mean_line", "mean_line_chars", mean, ">",
                           spec.max_mean_line_chars, "max_mean_line_chars")
    return None


def alnum_verdict(text: str, lang: str, spec: FilterSpec) -> Verdict | None:
    """``low_alnum`` for code that is mostly symbols and whitespace (data tables,
    encoded blobs)."""
    share = alnum_fraction(text)
    if share < spec.min_alnum_fraction:
        return _failed("low_alnum", "alnum_fraction", share, "<", spec.min_alnum_fraction,
                       "min_alnum_fraction")
    return None


def comment_verdict(text: str, lang: str, spec: FilterSpec) -> Verdict | None:
    """``few_comments`` or ``mostly_comments`` for code whose comment share is outside
    the bounds; languages with unknown comment syntax pass."""
    share = comment_fraction(text, lang)
    if share is None:
        return None
    if share < spec.min_comment_fraction:
        return _failed("few_comments", "comment_fraction", share, "<",
                       spec.min_comment_fraction, "min_comment_fraction")
    if share > spec.max_comment_fraction:
        return _failed("mostly_comments", "comment_fraction", share, ">",
                       spec.max_comment_fraction, "max_comment_fraction")
    return None


CODE_CHECKS: tuple[Callable[[str, str, FilterSpec], Verdict | None], ...] = (
    xml_verdict, html_verdict, data_size_verdict, data_alpha_verdict, line_length_verdict,
    mean_line_verdict, alnum_verdict, comment_verdict)
"""The code heuristics, cheapest and most specific first."""


# --- prose heuristics ---------------------------------------------------------------------

def word_count_verdict(prose: Prose, spec: FilterSpec) -> Verdict | None:
    """``too_few_words`` / ``too_many_words`` outside the word-count window."""
    if len(prose.words) < spec.min_words:
        return _failed("too_few_words", "words", len(prose.words), "<", spec.min_words,
                       "min_words")
    if len(prose.words) > spec.max_words:
        return _failed("too_many_words", "words", len(prose.words), ">", spec.max_words,
                       "max_words")
    return None


def word_length_verdict(prose: Prose, spec: FilterSpec) -> Verdict | None:
    """``short_words`` / ``long_words`` for a mean word length outside the window (word
    salad, tables, URLs and hashes); no words, no verdict."""
    if not prose.words:
        return None
    mean = sum(map(len, prose.words)) / len(prose.words)
    if mean < spec.min_mean_word_chars:
        return _failed("short_words", "mean_word_chars", mean, "<", spec.min_mean_word_chars,
                       "min_mean_word_chars")
    if mean > spec.max_mean_word_chars:
        return _failed("long_words", "mean_word_chars", mean, ">", spec.max_mean_word_chars,
                       "max_mean_word_chars")
    return None


def symbol_verdict(prose: Prose, spec: FilterSpec) -> Verdict | None:
    """``symbols`` when ``#`` or ellipses (``...``, ``…``), each counted on its own, are
    too frequent per word: hashtag spam and truncated snippets."""
    if not prose.words:
        return None
    hashes = prose.text.count("#")
    ellipses = sum(map(prose.text.count, _ELLIPSES))
    ratio = max(hashes, ellipses) / len(prose.words)
    if ratio > spec.max_symbol_ratio:
        return _failed("symbols", "symbols_per_word", ratio, ">", spec.max_symbol_ratio,
                       "max_symbol_ratio")
    return None


def alphabetic_words_verdict(prose: Prose, spec: FilterSpec) -> Verdict | None:
    """``non_alphabetic`` when too few words contain a letter (numbers, symbols)."""
    if not prose.words:
        return None
    share = sum(any(map(str.isalpha, word)) for word in prose.words) / len(prose.words)
    if share < spec.min_alpha_words:
        return _failed("non_alphabetic", "alphabetic_word_fraction", share, "<",
                       spec.min_alpha_words, "min_alpha_words")
    return None


def repeated_lines_verdict(prose: Prose, spec: FilterSpec) -> Verdict | None:
    """``repeated_lines`` when too many non-blank lines repeat an earlier line
    (boilerplate, scraped menus)."""
    if not prose.lines:
        return None
    share = (len(prose.lines) - len(set(prose.lines))) / len(prose.lines)
    if share > spec.max_dup_line_fraction:
        return _failed("repeated_lines", "repeated_line_fraction", share, ">",
                       spec.max_dup_line_fraction, "max_dup_line_fraction")
    return None


def bullet_verdict(prose: Prose, spec: FilterSpec) -> Verdict | None:
    """``bullets`` when nearly every line is a list item (link lists, navigation)."""
    if not prose.lines:
        return None
    share = sum(line.startswith(_BULLETS) for line in prose.lines) / len(prose.lines)
    if share > spec.max_bullet_lines:
        return _failed("bullets", "bullet_line_fraction", share, ">", spec.max_bullet_lines,
                       "max_bullet_lines")
    return None


def ellipsis_verdict(prose: Prose, spec: FilterSpec) -> Verdict | None:
    """``ellipsis`` when many lines end with an ellipsis (truncated teasers)."""
    if not prose.lines:
        return None
    share = sum(line.endswith(_ELLIPSES) for line in prose.lines) / len(prose.lines)
    if share > spec.max_ellipsis_lines:
        return _failed("ellipsis", "ellipsis_line_fraction", share, ">",
                       spec.max_ellipsis_lines, "max_ellipsis_lines")
    return None


PROSE_CHECKS: tuple[Callable[[Prose, FilterSpec], Verdict | None], ...] = (
    word_count_verdict, word_length_verdict, symbol_verdict, alphabetic_words_verdict,
    repeated_lines_verdict, bullet_verdict, ellipsis_verdict)
"""The prose heuristics, in Gopher's order."""


# --- entry points -------------------------------------------------------------------------

def code_verdict(text: str, lang: str, spec: FilterSpec) -> Verdict | None:
    """The first code heuristic that ``text`` in language ``lang`` fails, or None."""
    return next((r for check in CODE_CHECKS if (r := check(text, lang, spec))), None)


def text_verdict(text: str, spec: FilterSpec) -> Verdict | None:
    """The first prose heuristic that ``text`` fails, or None."""
    prose = Prose.of(text)
    return next((r for check in PROSE_CHECKS if (r := check(prose, spec))), None)


def quality_verdict(record: Record, spec: FilterSpec) -> Verdict | None:
    """Why a record is dropped (its reason one of ``REASONS``), or None to keep it.

    Code and prose get their own heuristics; pairs, already cut from kept code, pass, as
    does everything when ``spec.enabled`` is false.
    """
    if not spec.enabled:
        return None
    if record.kind == "code":
        return code_verdict(record.text, record.lang, spec)
    if record.kind == "text":
        return text_verdict(record.text, spec)
    return None


def filter_record(record: Record, specs: dict[str, ComponentSpec]) -> Record | Drop:
    """The quality filters of the record's component: the record, or its ``filter`` drop."""
    verdict = quality_verdict(record, specs[record.component].filters)
    return Drop.of(record, "filter", verdict.reason, verdict.detail) if verdict else record
