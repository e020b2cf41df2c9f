"""Which grammar parses which language (pipelines/parse/grammars.py), with the real wheels."""

from __future__ import annotations

import pytest

from pipelines.languages import LANGUAGE_KIND
from pipelines.parse import Parsers, grammars

ISSUE_LANGUAGES = ("python", "java", "javascript", "typescript", "tsx", "go", "c", "cpp",
                   "csharp", "rust", "ruby", "php", "scala", "kotlin", "swift", "lua", "shell",
                   "haskell", "julia", "json", "yaml", "toml", "html", "css")
"""Every language the recipes train on that has a grammar wheel (R has none)."""


def test_every_recipe_language_has_a_grammar():
    assert set(ISSUE_LANGUAGES) == set(grammars.LANGUAGES)
    assert "r" in grammars.WITHOUT_GRAMMAR and grammars.canonical_language("r") is None


def test_grammar_names_are_the_language_identifiers_names():
    # tsx is picked by file name for typescript documents, not identified on its own.
    assert set(grammars.LANGUAGES) - {"tsx"} <= set(LANGUAGE_KIND)


@pytest.mark.parametrize("lang", grammars.LANGUAGES)
def test_each_grammar_loads_once_per_process(lang):
    first = grammars.language(lang)
    assert grammars.language(lang) is first
    assert Parsers([lang]).get(lang).language == first


def test_parsers_build_grammars_on_first_use_only():
    parsers = Parsers()
    assert parsers._parsers == {}
    parsers.analyze("package p\n", "go")
    assert list(parsers._parsers) == ["go"]


@pytest.mark.parametrize("alias,name", [("C++", "cpp"), ("c#", "csharp"), ("bash", "shell"),
                                        ("sh", "shell"), ("TS", "typescript"), ("yml", "yaml"),
                                        ("golang", "go"), ("py", "python")])
def test_aliases_name_their_grammar(alias, name):
    assert grammars.canonical_language(alias) == name


def test_tsx_files_get_the_tsx_grammar():
    assert grammars.grammar_name("typescript", "src/App.tsx") == "tsx"
    assert grammars.grammar_name("typescript", "src/app.ts") == "typescript"
    jsx = "const a = <div>{x}</div>;\n"
    parsers = Parsers()
    assert parsers.analyze(jsx, "typescript", "App.tsx").error_ratio == 0.0
    assert parsers.analyze(jsx, "typescript", "app.ts").error_ratio > 0.0
