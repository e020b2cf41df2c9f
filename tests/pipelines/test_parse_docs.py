"""Doc comments read in each language's own form (pipelines/parse/docs.py)."""

from __future__ import annotations

import pytest

from pipelines.parse.docs import (DOC_FORMS, comment_text, comments_text, first_paragraph,
                                  rust_doc_attribute)


@pytest.mark.parametrize("form,raw,expected", [
    ("python", "Return the sum.\n\nArgs:\n    a: first.", "Return the sum."),
    ("python", "Return the :func:`len` of ``x``.\n:param x: a list.", "Return the len of x."),
    ("javadoc", "Adds {@code x} to the {@link java.util.List list}.\n@param x the value",
     "Adds x to the java.util.List list."),
    ("javadoc", "Returns the <b>sum</b>.<p>\nMore detail.", "Returns the sum.\nMore detail."),
    ("javadoc", "{@inheritDoc}", ""),
    ("xmldoc", "<summary>\nAdds <see cref=\"T:Demo.Size\"/> values.\n</summary>\n"
               "<param name=\"a\">A.</param>", "Adds Demo.Size values."),
    ("xmldoc", "<inheritdoc/>", ""),
    ("rust", "Returns [`Size`] of the [buffer](Buffer::len).\n\n# Examples",
     "Returns Size of the buffer."),
    ("go", "Area returns the area.\n\nIt panics.", "Area returns the area."),
    ("ruby", "Moves the +point+ by *dx*.\n@param dx [Integer]", "Moves the point by dx."),
    ("doxygen", "\\brief Counts the vowels.\n\\param s the string", "Counts the vowels."),
    ("doxygen", "@brief Counts the vowels.\n@return the count", "Counts the vowels."),
])
def test_first_paragraph_strips_tags_and_markup(form, raw, expected):
    assert first_paragraph(raw, form) == expected


@pytest.mark.parametrize("comment,text", [
    ("/** Doc. */", "Doc."),
    ("/**\n * Line one.\n * Line two.\n */", "Line one.\nLine two."),
    ("/*! Qt style. */", "Qt style."),
    ("/// Rust or C#.\n", "Rust or C#."),
    ("//! Inner.", "Inner."),
    ("# Ruby.", "Ruby."),
    ("=begin\nRuby block.\n=end", "Ruby block."),
])
def test_comment_markers_are_removed(comment, text):
    assert comment_text(comment) == text


def test_a_run_of_line_comments_is_one_text():
    assert comments_text(["/// First line,", "///   indented.", "/// Last."]) == \
        "First line,\n  indented.\nLast."


@pytest.mark.parametrize("form,comment,is_doc", [
    ("javadoc", "/** Doc. */", True), ("javadoc", "/* Plain. */", False),
    ("javadoc", "/*** Banner ***/", False), ("javadoc", "// Line.", False),
    ("rust", "/// Doc.", True), ("rust", "//// Not a doc.", False),
    ("rust", "//! Inner doc.", False), ("xmldoc", "/// <summary/>", True),
    ("go", "// Anything.", True), ("doxygen", "/* Plain C. */", True),
])
def test_doc_forms_tell_doc_comments_from_ordinary_ones(form, comment, is_doc):
    assert DOC_FORMS[form].is_doc(comment) is is_doc


def test_rust_doc_attributes_are_read():
    assert rust_doc_attribute('#[doc = "Doubles \\"x\\"."]') == 'Doubles "x".'
    assert rust_doc_attribute("#[inline]") is None
