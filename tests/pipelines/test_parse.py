"""Tests for pipelines/parse.py, with the real grammars."""

from __future__ import annotations

import pathlib
import sysconfig
import textwrap

import pytest

from pipelines import parse
from pipelines.parse import (Pair, PairRules, Parsers, Span, analyze, pair_records,
                             select_pairs, syntax_verdict)
from pipelines.records import Record, record_id

STDLIB = pathlib.Path(sysconfig.get_paths()["stdlib"])


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


PYTHON = src('''
    import os


    @cache
    def add(a, b):
        """Add two numbers.

            Indented detail.
        """
        c = a + b
        return c


    class Shape:
        def area(self):
            """Area of the shape in square units."""
            w = self.w
            return w * self.h

        def trivial_doc(self):
            """Width."""
            w = self.w
            return w

        def short_body(self):
            """Return the height of the shape."""
            return self.h

        def no_doc(self):
            x = 1
            return x
    ''')


@pytest.fixture(scope="module")
def parsers() -> Parsers:
    return Parsers(parse.LANGUAGES)


def test_valid_python_has_zero_error_ratio(parsers):
    result = parsers.analyze(PYTHON, "python")
    assert result.error_ratio == 0.0
    assert not result.has_error
    assert result.num_bytes == len(PYTHON.encode())


def test_broken_python_is_dropped_as_syntax_error(parsers):
    result = parsers.analyze("def f(:\n", "python")
    assert result.has_error
    assert result.error_ratio > 0
    assert syntax_verdict(result, max_error_ratio=0.05) == "syntax_error"


def test_verdict_keeps_below_threshold(parsers):
    result = parsers.analyze("def f(:\n" + "x = 1\n" * 100, "python")
    assert 0 < result.error_ratio < 0.05
    assert syntax_verdict(result, max_error_ratio=0.05) is None
    assert syntax_verdict(result, max_error_ratio=0.0) == "syntax_error"


def test_verdict_rejects_threshold_outside_unit_interval(parsers):
    with pytest.raises(ValueError, match="max_error_ratio"):
        syntax_verdict(parsers.analyze("x = 1\n", "python"), max_error_ratio=5)


def test_python_docstring_pair_is_exact(parsers):
    result = parsers.analyze(PYTHON, "python")
    assert result.pairs[0] == Pair(
        name="add", start_line=4, end_line=11,
        docstring="Add two numbers.",
        code="@cache\ndef add(a, b):\n    c = a + b\n    return c")


def test_python_method_pair_is_dedented_and_without_docstring(parsers):
    result = parsers.analyze(PYTHON, "python")
    assert result.pairs[1] == Pair(
        name="area", start_line=15, end_line=18,
        docstring="Area of the shape in square units.",
        code="def area(self):\n    w = self.w\n    return w * self.h")


def test_methods_inside_classes_are_counted(parsers):
    result = parsers.analyze(PYTHON, "python")
    assert result.num_functions == 5
    assert result.num_classes == 1
    assert result.classes == (Span("Shape", 14, 31),)
    assert [f.name for f in result.functions] == [
        "add", "area", "trivial_doc", "short_body", "no_doc"]


def test_trivial_docstrings_and_bodies_are_skipped(parsers):
    result = parsers.analyze(PYTHON, "python")
    assert [p.name for p in result.pairs] == ["add", "area", "trivial_doc", "short_body"]
    assert [p.name for p in select_pairs(result.pairs, PairRules())] == ["add", "area"]


def test_bytes_and_fstrings_are_not_docstrings(parsers):
    code = src('''
        def f(x):
            b"""Not a docstring at all."""
            y = x
            return y

        def g(x):
            f"""Not a docstring {x} either."""
            y = x
            return y

        def h(x):
            r"""A raw \\d docstring is fine."""
            y = x
            return y
        ''')
    result = parsers.analyze(code, "python")
    assert [(p.name, p.docstring) for p in result.pairs] == [
        ("h", r"A raw \d docstring is fine.")]


def test_c_function_with_doc_comment_is_a_pair(parsers):
    code = src("""
        /* Copyright 2024 Example Corp, all rights reserved. */
        #include <stdio.h>

        /**
         * Add two integers and return the sum.
         */
        static int add(int a, int b) {
            int c = a + b;
            return c;
        }

        int x; // trailing comment, not a doc
        int g(void) {
            x++;
            return x;
        }
        """)
    result = parsers.analyze(code, "c")
    assert result.error_ratio == 0.0
    assert [f.name for f in result.functions] == ["add", "g"]
    assert result.pairs == (Pair(
        name="add", start_line=7, end_line=10,
        docstring="Add two integers and return the sum.",
        code="static int add(int a, int b) {\n    int c = a + b;\n    return c;\n}"),)


def test_line_comment_run_is_a_docstring_but_blank_line_breaks_it(parsers):
    code = src("""
        // Unrelated comment about the file.

        // Increment the value given,
        // then hand it back.
        int inc(int q)
        {
            q++;
            return q;
        }
        """)
    result = parsers.analyze(code, "c")
    assert [(p.name, p.docstring) for p in result.pairs] == [
        ("inc", "Increment the value given,\nthen hand it back.")]


def test_license_header_is_not_a_docstring(parsers):
    code = src("""
        /* SPDX-License-Identifier: MIT -- licensed under the MIT terms. */
        int f(int a) {
            a++;
            return a;
        }
        """)
    assert parsers.analyze(code, "c").pairs == ()


def test_cpp_counts_functions_methods_and_templates(parsers):
    code = src("""
        /// Increment any value by one unit.
        template <class T> T& Foo::inc(T& x) {
          x += 1;
          return x;
        }
        class K { public: void m() { a(); } ~K() {} };
        namespace n { int *z() { return 0; } }
        """)
    result = parsers.analyze(code, "cpp")
    assert result.error_ratio == 0.0
    assert result.functions == (Span("Foo::inc", 2, 5), Span("m", 6, 6), Span("~K", 6, 6),
                                Span("z", 7, 7))
    assert result.num_classes == 1
    assert [(p.name, p.docstring) for p in result.pairs] == [
        ("Foo::inc", "Increment any value by one unit.")]
    assert result.pairs[0].code.startswith("template <class T>")


def test_java_counts_methods_and_constructors(parsers):
    code = src("""
        package a;
        public class A {
          /** Returns x plus one, always. */
          @Override
          public int f(int x) {
            int y = x;
            return y + 1;
          }
          A() { }
          interface I { void g(); }
        }
        """)
    result = parsers.analyze(code, "java")
    assert result.error_ratio == 0.0
    assert result.functions == (Span("f", 4, 8), Span("A", 9, 9))
    assert [c.name for c in result.classes] == ["A", "I"]
    assert result.pairs == (Pair(
        name="f", start_line=4, end_line=8, docstring="Returns x plus one, always.",
        code="@Override\npublic int f(int x) {\n  int y = x;\n  return y + 1;\n}"),)


def test_javascript_counts_declarations_methods_and_named_arrows(parsers):
    code = src("""
        /** Exported function doc here. */
        export function f(a) {
          const b = a;
          return b;
        }
        const g = (x) => x + 1;
        class A { m() { return 1; } }
        foo.bar = function () {};
        [1].map((x) => x);
        """)
    result = parsers.analyze(code, "javascript")
    assert result.error_ratio == 0.0
    assert [f.name for f in result.functions] == ["f", "g", "m", "foo.bar"]
    assert result.functions[0] == Span("f", 2, 5)
    assert result.num_classes == 1
    assert [(p.name, p.code.splitlines()[0]) for p in result.pairs] == [
        ("f", "export function f(a) {")]


def test_unknown_language_gives_none(parsers):
    assert parsers.analyze("x <- function(a) a", "r") is None
    assert analyze("x", "") is None
    with pytest.raises(ValueError, match="cobol"):
        Parsers(["cobol"])


def test_language_aliases_are_accepted(parsers):
    assert parsers.analyze("int f() { return 1; }", "C++").lang == "cpp"
    assert parsers.analyze("x = 1", "py").lang == "python"


@pytest.mark.parametrize("lang", parse.LANGUAGES)
@pytest.mark.parametrize("text", [
    "",
    "\x00\x01\xff\ufffd" * 500,
    "\udcff\udc80 lone surrogates \ud800 def f():\n  '\udcff' ",
    "é漢字🙂 " * 1000,
    "x" * 200_000,
    "(" * 50_000,
    "/*" + "*" * 10_000,
    bytes(range(256)).decode("latin-1") * 20,
])
def test_any_text_never_raises(parsers, lang, text):
    result = parsers.analyze(text, lang)
    assert 0.0 <= result.error_ratio <= 1.0
    assert result.error_bytes <= result.num_bytes
    assert (result.error_ratio == 0.0) if not text else True


def test_huge_error_regions_are_measured_and_walked(parsers):
    result = parsers.analyze("(" * 50_000 + "\ndef f():\n    pass\n", "python")
    assert result.extracted
    assert result.error_ratio > 0.9


def test_offsets_survive_multibyte_text(parsers):
    code = src('''
        def grüße(x):
            """Grüße an alle — 漢字 im Docstring."""
            y = "🙂"
            return x + y
        ''')
    (pair,) = parsers.analyze(code, "python").pairs
    assert pair.name == "grüße"
    assert pair.docstring == "Grüße an alle — 漢字 im Docstring."
    assert pair.code == 'def grüße(x):\n    y = "🙂"\n    return x + y'


def test_output_is_deterministic(parsers):
    assert parsers.analyze(PYTHON, "python") == Parsers().analyze(PYTHON, "python")


def test_pair_records_carry_source_fields_and_content_ids(parsers):
    record = Record(id="abc", text=PYTHON, kind="code", lang="python", component="code-python",
                    repo="org/repo", path="shapes.py", license="MIT", meta={"stars": 3})
    result = parsers.analyze(record.text, record.lang)
    out = pair_records(record, result, component="pairs")
    assert len(out) == 2
    first = out[0]
    pair = result.pairs[0]
    text = pair.docstring + "\n" + pair.code
    assert first == Record(
        id=record_id("abc:add:4", text), text=text, kind="pair", lang="python",
        component="pairs", repo="org/repo", path="shapes.py", license="MIT",
        meta={"stars": 3, "pair": {"source_id": "abc", "name": "add", "start_line": 4,
                                   "end_line": 11}},
        code=pair.code, docstring=pair.docstring)
    assert record.meta == {"stars": 3}


def _stdlib(relative: str) -> str:
    path = STDLIB / relative
    if not path.exists():
        pytest.skip(f"{relative} not in this Python's standard library")
    return path.read_text(encoding="utf-8", errors="surrogateescape")


@pytest.mark.parametrize("relative", ["json/__init__.py", "textwrap.py", "shlex.py"])
def test_real_stdlib_files_parse_clean_with_pairs(parsers, relative):
    result = parsers.analyze(_stdlib(relative), "python")
    assert result.error_ratio == 0.0
    assert result.extracted
    assert result.pairs
    assert all(p.docstring not in p.code for p in result.pairs)


def test_json_module_pairs(parsers):
    result = parsers.analyze(_stdlib("json/__init__.py"), "python")
    assert [p.name for p in result.pairs] == ["dump", "dumps", "load", "loads"]


@pytest.mark.parametrize("relative", [
    "test/badsyntax_3131.py", "test/tokenizedata/badsyntax_3131.py"])
def test_stdlib_badsyntax_file_has_errors(parsers, relative):
    # NOTE: lib2to3's py2_test_grammar.py is not used: tree-sitter-python accepts Python 2
    # print/exec statements, backticks and `<>`, so it parses clean.
    result = parsers.analyze(_stdlib(relative), "python")
    assert result.error_ratio > 0
    assert syntax_verdict(result, max_error_ratio=0.0) == "syntax_error"


def test_module_level_analyze_and_get_parser():
    assert analyze("x = 1\n", "python").error_ratio == 0.0
    assert parse.get_parser("java") is parse.get_parser("java")
    assert parse.get_parser("cobol") is None
