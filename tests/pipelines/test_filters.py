"""Quality filters: one test per heuristic and its boundary, on real-ish inputs."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import pathlib
import sysconfig

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import FilterSpec, parse_config
from pipelines.filters import (COMMENT_SYNTAX, REASONS, comment_chars, comment_fraction,
                               filter_record, quality_verdict, visible_text)
from pipelines.records import Record

SPEC = FilterSpec()
STDLIB = pathlib.Path(sysconfig.get_paths()["stdlib"])
LANGS = ("python", "c", "cpp", "csharp", "java", "javascript", "typescript", "go", "rust",
         "ruby", "php", "shell", "sql", "kotlin", "scala", "swift", "lua", "dart", "vue",
         "markdown", "json", "yaml", "toml", "xml", "xslt", "html", "css", "text", "")


def _code(text: str, lang: str = "python") -> Record:
    return Record(id="i", text=text, kind="code", lang=lang, component="c")


def _prose(text: str) -> Record:
    return Record(id="i", text=text, kind="text", lang="text", component="c")


def _verdict(record: Record, **overrides) -> str | None:
    """The drop reason of ``record`` under ``SPEC`` with ``overrides``, or None."""
    verdict = quality_verdict(record, dataclasses.replace(SPEC, **overrides))
    return verdict.reason if verdict else None


def _sentences(n: int) -> list[str]:
    """n distinct lines of plain English, 12 words each."""
    return [f"The parser reads input file {i} and then reports every error it finds."
            for i in range(n)]


PARAGRAPH = " ".join(_sentences(6))  # 72 words


# --- every reason, and its neutral value -----------------------------------------------------

CASES = {
    # reason: (record, overrides that make it fail, overrides that switch the rule off)
    "xml_data": (_code('<?xml version="1.0"?>\n<config>\n  <name>codemix builder</name>\n'
                       '</config>\n', "xml"), {}, {"xml_head_chars": 0}),
    "html_markup": (_code('<div class="row"><span></span></div>\n' * 20, "html"), {},
                    {"html_min_text_chars": 0, "html_min_text_fraction": 0.0}),
    "data_size": (_code('{"name": "codemix", "tags": [' + '"alpha beta gamma", ' * 300 + '""]}',
                        "json"), {}, {"data_max_chars": 10**9}),
    "low_alpha": (_code('{"values": [' + "12, 34, 56, " * 40 + "0]}", "json"), {},
                  {"data_min_alpha_fraction": 0.0}),
    "long_lines": (_code('LOGO = "' + "a" * 1200 + '"\n' + "value = compute(x)\n" * 30), {},
                   {"max_line_chars": 10**9}),
    "long_mean_line": (_code(("total = first_value + second_value + third_value" * 3 + "\n")
                             * 20), {}, {"max_mean_line_chars": float("inf")}),
    "low_alnum": (_code("x = [\n" + "    [(), {}],\n" * 50 + "]\n"), {},
                  {"min_alnum_fraction": 0.0}),
    "few_comments": (_code("def area(width, height):\n    return width * height\n"),
                     {"min_comment_fraction": 0.01}, {"min_comment_fraction": 0.0}),
    "mostly_comments": (_code("# Nothing here but a licence header.\n" * 10), {},
                        {"max_comment_fraction": 1.0}),
    "too_few_words": (_prose("A short note about parsing."), {}, {"min_words": 0}),
    "too_many_words": (_prose(PARAGRAPH), {"max_words": 60}, {"max_words": 10**9}),
    "short_words": (_prose("it is an ox, so we go on " * 10), {},
                    {"min_mean_word_chars": 0.0}),
    "long_words": (_prose("internationalization " * 60), {},
                   {"max_mean_word_chars": float("inf")}),
    "symbols": (_prose(PARAGRAPH + " #python #parsing #code" * 3), {},
                {"max_symbol_ratio": float("inf")}),
    "non_alphabetic": (_prose(PARAGRAPH + " 2024 1999 3.14 42" * 10), {},
                       {"min_alpha_words": 0.0}),
    "repeated_lines": (_prose("\n".join(_sentences(6) + ["Subscribe to our newsletter."] * 6)),
                       {}, {"max_dup_line_fraction": 1.0}),
    "bullets": (_prose("\n".join("- " + s for s in _sentences(8))), {},
                {"max_bullet_lines": 1.0}),
    "ellipsis": (_prose("\n".join(_sentences(6) + [s[:-1] + "…" for s in _sentences(9)[6:]])),
                 {}, {"max_ellipsis_lines": 1.0}),
}


def test_every_reason_has_a_case():
    assert set(CASES) == set(REASONS)


@pytest.mark.parametrize("reason", REASONS)
def test_each_rule_drops_under_its_own_reason(reason):
    record, failing, _ = CASES[reason]
    assert _verdict(record, **failing) == reason


@pytest.mark.parametrize("reason", REASONS)
def test_each_rule_is_switched_off_by_its_neutral_value(reason):
    record, failing, neutral = CASES[reason]
    assert _verdict(record, **{**failing, **neutral}) is None


@pytest.mark.parametrize("reason", REASONS)
def test_disabled_filters_keep_everything(reason):
    record, failing, _ = CASES[reason]
    assert _verdict(record, enabled=False, **failing) is None


def test_pairs_always_pass():
    pair = Record(id="i", text="#" * 5000, kind="pair", lang="python", component="c")
    assert quality_verdict(pair, SPEC) is None


# --- code: real files ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["textwrap.py", "json/decoder.py", "argparse.py",
                                  "heapq.py"])
def test_real_stdlib_python_files_pass(name):
    assert quality_verdict(_code((STDLIB / name).read_text("utf-8")), SPEC) is None


def test_defaults_keep_nearly_all_of_the_stdlib():
    files = sorted(f for f in STDLIB.glob("**/*.py") if "site-packages" not in f.parts)
    files = files[::max(1, len(files) // 200)]
    texts = [f.read_text("utf-8", errors="replace") for f in files]
    kept = sum(quality_verdict(_code(t), SPEC) is None for t in texts)
    assert len(texts) >= 150 and kept >= 0.9 * len(texts)


def test_minified_javascript_is_long_lines():
    source = (STDLIB / "json" / "encoder.py").read_text("utf-8")
    names = sorted({w for w in source.split() if w.isidentifier()})
    minified = "".join(f"function {n}(a,b){{return a+b*{i}}};" for i, n in enumerate(names))
    assert len(minified) > 1000
    assert quality_verdict(_code(minified, "javascript"), SPEC).reason == "long_lines"


def test_a_filter_drop_names_the_file_and_its_measure_against_the_bound():
    record = Record(id="i", text=("a" * 143 + "\n") * 4 + "b" * 143, kind="code",
                    lang="python", component="c", repo="octo/demo", path="src/wide.py")
    config = parse_config({"output": "o", "components": {"c": {
        "kind": "code", "weight": 1.0, "inputs": [{"url": "x", "format": "folder"}]}}},
        check_paths=False)
    drop = filter_record(record, {"c": config.components[0]})
    assert (drop.reason, drop.path, drop.detail) == (
        "long_mean_line", "octo/demo:src/wide.py",
        "mean_line_chars 143 > 100 (max_mean_line_chars)")
    prose = _prose("word " * 7)
    assert quality_verdict(prose, SPEC).detail == "words 7 < 50 (min_words)"
    assert quality_verdict(_code("values:\n" + "  - 1234\n" * 100, "yaml"), SPEC).detail == (
        "alpha_fraction 0.006608 < 0.5 (data_min_alpha_fraction)")  # 6 letters of 908


# --- code: boundaries ------------------------------------------------------------------------

def test_longest_line_at_the_limit_passes():
    lines = ["x = 1"] * 40
    assert _verdict(_code("\n".join(lines + ["y" * 1000])), max_mean_line_chars=1e9) is None
    assert _verdict(_code("\n".join(lines + ["y" * 1001])),
                    max_mean_line_chars=1e9) == "long_lines"


def test_mean_line_length_at_the_limit_passes():
    assert _verdict(_code(("a" * 100 + "\n") * 5)) is None
    assert _verdict(_code(("a" * 101 + "\n") * 5)) == "long_mean_line"


def test_line_limits_do_not_apply_to_exempt_languages():
    text = "# Title\n\n" + "word " * 400 + "\n"
    assert _verdict(_code(text, "markdown")) is None
    assert _verdict(_code(text, "markdown"), long_line_exempt=()) == "long_lines"


def test_alnum_fraction_at_the_limit_passes():
    assert _verdict(_code("a--\n" * 30, "css")) is None  # 1 in 4, line breaks included
    assert _verdict(_code("a--\n" * 30 + "-", "css")) == "low_alnum"


def test_comment_share_bounds_are_inclusive():
    text = "x = 1  # one\n"  # "# one" is 5 of 13 characters
    share = comment_fraction(text, "python")
    assert share == pytest.approx(5 / 13)
    assert _verdict(_code(text), min_comment_fraction=share, max_comment_fraction=share) is None
    assert _verdict(_code(text), min_comment_fraction=share + 0.01) == "few_comments"
    assert _verdict(_code(text), max_comment_fraction=share - 0.01) == "mostly_comments"


# --- code: the comment scanner ---------------------------------------------------------------

def test_comment_markers_inside_strings_are_not_comments():
    assert comment_fraction('const url = "http://example.org/#top";\n', "javascript") == 0
    assert comment_fraction("tag = '# not a comment'\n", "python") == 0
    assert comment_fraction("SELECT '--not' FROM t; -- yes\n", "sql") == pytest.approx(6 / 30)


def test_comments_are_counted_per_language_family():
    cases = {
        "c": ("/* block */ int x; // line\n", len("/* block */") + len("// line")),
        "go": ("s := `//raw`  // c\n", len("// c")),
        "shell": ("echo ${#arr} a#b  # real\n", len("# real")),
        "lua": ("x = 1 --[[ block ]] -- line\n", len("--[[ block ]]") + len("-- line")),
        "html": ("<p>Hi</p><!-- note -->\n", len("<!-- note -->")),
        "yaml": ('url: "a # b"  # real\n', len("# real")),
    }
    for lang, (text, expected) in cases.items():
        assert comment_chars(text, COMMENT_SYNTAX[lang]) == expected, lang


def test_python_docstrings_count_as_comments_but_assigned_strings_do_not():
    text = 'def f():\n    """Say hi."""\n    s = """not a docstring"""\n'
    assert comment_chars(text, COMMENT_SYNTAX["python"]) == len('"""Say hi."""')


def test_an_unterminated_string_ends_at_its_line():
    assert comment_chars('char *s = "oops;\n// real\n', COMMENT_SYNTAX["c"]) == len("// real")


def test_languages_without_known_comments_have_no_comment_share():
    assert comment_fraction('{"a": "# b"}', "json") is None
    assert comment_fraction("", "python") is None


# --- code: data formats ----------------------------------------------------------------------

def test_xml_declaration_counts_only_near_the_top():
    body = "<config>\n  <name>codemix builder settings</name>\n</config>\n"
    declared = '<?xml version="1.0"?>\n' + body
    assert _verdict(_code(declared, "xml")) == "xml_data"
    assert _verdict(_code(declared, "svg")) == "xml_data"
    assert _verdict(_code(" " * 100 + declared, "xml")) is None
    assert _verdict(_code(declared, "xslt")) is None


def test_html_with_enough_visible_text_passes():
    page = ("<html><head><title>Guide</title><style>p { margin: 0 }</style></head><body>\n"
            + "".join(f"<p>{s}</p>\n" for s in _sentences(5)) + "</body></html>\n")
    assert _verdict(_code(page, "html")) is None


def test_html_visible_text_boundaries():
    page = "<p>" + "a" * 100 + "</p>"
    assert _verdict(_code(page, "html")) is None
    assert _verdict(_code("<p>" + "a" * 99 + "</p>", "html")) == "html_markup"
    padded = page + "<br>" * 98  # 100 visible characters in 500
    assert _verdict(_code(padded, "html")) is None
    assert _verdict(_code(padded + "<br>", "html")) == "html_markup"


def test_visible_text_drops_tags_scripts_styles_and_comments():
    page = ("<html><head><style>p{}</style><SCRIPT type=x>if (a<b) go();</ScRiPt >"
            "</head><body><p>Fish &amp; chips</p> a < b <!-- hidden --><br/></body></html>")
    assert visible_text(page) == "Fish & chips a < b "
    assert visible_text("<script>never closed") == ""
    assert visible_text("text <b") == "text "


def test_data_files_must_fit_the_size_window():
    def json_of(size: int) -> str:
        head = '{"note": "'
        return head + "a" * (size - len(head) - 2) + '"}'
    assert _verdict(_code(json_of(49), "json")) == "data_size"
    assert _verdict(_code(json_of(50), "json")) is None
    assert _verdict(_code(json_of(5000), "json")) is None
    assert _verdict(_code(json_of(5001), "json")) == "data_size"
    assert _verdict(_code("key: value\n" * 500, "yaml")) == "data_size"
    assert _verdict(_code('{"note": "' + "a" * 6000 + '"}', "python")) != "data_size"


def test_only_data_files_need_letters():
    assert _verdict(_code("values:\n" + "  - 1234\n" * 100, "yaml")) == "low_alpha"
    assert _verdict(_code("values = [\n" + "    12, 34,\n" * 60 + "]\n", "python")) is None


# --- prose -----------------------------------------------------------------------------------

@pytest.mark.parametrize("module", [argparse, csv])
def test_stdlib_module_docstrings_pass_as_prose(module):
    assert quality_verdict(_prose(module.__doc__), SPEC) is None


def test_word_count_bounds_are_inclusive():
    words = "parsers " * 50
    assert _verdict(_prose(words)) is None
    assert _verdict(_prose("parsers " * 49)) == "too_few_words"
    assert _verdict(_prose(words), min_words=0, max_words=50) is None
    assert _verdict(_prose(words), min_words=0, max_words=49) == "too_many_words"


def test_words_are_whitespace_separated_tokens():
    assert _verdict(_prose("well-known tools, " * 25)) is None  # 50 words
    assert _verdict(_prose("well-known, " * 49)) == "too_few_words"  # not 98 regex words


def test_mean_word_length_bounds_are_inclusive():
    assert _verdict(_prose("abc " * 60)) is None
    assert _verdict(_prose("ab abc " * 30)) == "short_words"
    assert _verdict(_prose("abcdefghij " * 60)) is None
    assert _verdict(_prose("abcdefghij abcdefghijk " * 30)) == "long_words"


def test_symbol_ratio_counts_hashes_and_ellipses_separately():
    words = ["parsing"] * 100
    assert _verdict(_prose(" ".join(words[:90] + ["#tag"] * 10))) is None
    assert _verdict(_prose(" ".join(words[:89] + ["#tag"] * 11))) == "symbols"
    assert _verdict(_prose(" ".join(words[:89] + ["wait…"] * 11))) == "symbols"
    assert _verdict(_prose(" ".join(["#tag"] * 10 + ["wait..."] * 10 + words[:80]))) is None


def test_alphabetic_word_share_at_the_limit_passes():
    assert _verdict(_prose("parsing " * 80 + "2024 " * 20)) is None
    assert _verdict(_prose("parsing " * 79 + "2024 " * 21)) == "non_alphabetic"


def test_repeated_line_share_at_the_limit_passes():
    lines = _sentences(7) + ["Subscribe now."] * 4  # 3 repeats in 10 lines
    assert _verdict(_prose("\n".join(lines[:10]))) is None
    assert _verdict(_prose("\n".join(lines[:6] + ["Subscribe now."] * 5))) == "repeated_lines"


def test_blank_lines_do_not_count_as_repeats():
    assert _verdict(_prose("\n\n\n".join(_sentences(6)))) is None


def test_bullet_line_share_at_the_limit_passes():
    lines = _sentences(10)
    assert _verdict(_prose("\n".join(["• " + s for s in lines[:9]] + lines[9:]))) is None
    assert _verdict(_prose("\n".join("• " + s for s in lines))) == "bullets"


def test_ellipsis_line_share_at_the_limit_passes():
    lines = _sentences(10)
    cut = [s[:-1] + "..." for s in lines]
    assert _verdict(_prose("\n".join(cut[:3] + lines[3:]))) is None
    assert _verdict(_prose("\n".join(cut[:4] + lines[4:]))) == "ellipsis"


# --- config ----------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides", [{"min_alnum_fraction": 1.5},
                                       {"max_dup_line_fraction": -0.1},
                                       {"min_comment_fraction": 0.9, "max_comment_fraction": 0.8},
                                       {"min_words": 10, "max_words": 5},
                                       {"data_min_chars": 100, "data_max_chars": 50}])
def test_spec_rejects_impossible_thresholds(overrides):
    with pytest.raises(ValueError):
        FilterSpec(**overrides)


# --- properties ------------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("<>!?-/*#'\"`\\\n\t []{}().…:=xmlAZaz09_é"))
                | st.characters(), max_size=400)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, lang=st.sampled_from(LANGS), kind=st.sampled_from(("code", "text", "pair")))
def test_any_text_gets_a_documented_verdict(text, lang, kind):
    record = Record(id="i", text=text, kind=kind, lang=lang, component="c")
    verdict = quality_verdict(record, SPEC)
    assert verdict is None or (verdict.reason in REASONS and verdict.detail)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, lang=st.sampled_from(sorted(COMMENT_SYNTAX)))
def test_comment_share_is_a_fraction(text, lang):
    share = comment_fraction(text, lang)
    assert share is None or 0.0 <= share <= 1.0
