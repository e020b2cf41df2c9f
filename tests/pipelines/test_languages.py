"""Language id for code (name, extension, content, #! line) and for prose (script and
function words)."""

from __future__ import annotations

import importlib

import pytest
from hypothesis import given, settings, strategies as st

from pipelines import languages
from pipelines.languages import (CODEGEN2_LANGUAGES, LANGUAGE_KIND, language_of,
                                 natural_language, normalize_language, shebang_language)


@pytest.mark.parametrize("path,lang", [
    ("a/b.py", "python"), ("x.c", "c"), ("x.cpp", "cpp"), ("x.cs", "csharp"),
    ("x.dart", "dart"), ("x.go", "go"), ("x.java", "java"), ("x.js", "javascript"),
    ("x.kt", "kotlin"), ("x.lua", "lua"), ("x.php", "php"), ("x.rb", "ruby"),
    ("x.rs", "rust"), ("x.scala", "scala"), ("x.sh", "shell"), ("x.sql", "sql"),
    ("x.swift", "swift"), ("x.ts", "typescript"), ("x.vue", "vue"),
])
def test_every_codegen2_language_is_found_by_extension(path, lang):
    assert language_of(path, "") == lang
    assert lang in CODEGEN2_LANGUAGES


@pytest.mark.parametrize("path,lang", [
    ("README.md", "markdown"), ("a.json", "json"), ("ci.yml", "yaml"), ("c.yaml", "yaml"),
    ("Cargo.toml", "toml"), ("pom.xml", "xml"), ("index.html", "html"), ("s.css", "css"),
    ("setup.cfg", "ini"), ("tox.ini", "ini"), ("docs/index.rst", "restructuredtext"),
    ("rules.mk", "makefile"), ("x.cmake", "cmake"), ("app.Dockerfile", "dockerfile"),
    ("x.pl", "perl"), ("x.R", "r"), ("x.jl", "julia"), ("x.hs", "haskell"),
])
def test_markup_config_and_other_languages_by_extension(path, lang):
    assert language_of(path, "") == lang


@pytest.mark.parametrize("path,lang", [
    ("Makefile", "makefile"), ("src/GNUmakefile", "makefile"), ("Makefile.am", "makefile"),
    ("Dockerfile", "dockerfile"), ("Containerfile", "dockerfile"),
    ("Dockerfile.prod", "dockerfile"), ("CMakeLists.txt", "cmake"), ("Rakefile", "ruby"),
    ("Gemfile", "ruby"), ("Vagrantfile", "ruby"), ("Jenkinsfile", "groovy"),
    ("BUILD", "starlark"), ("WORKSPACE", "starlark"), ("home/.bashrc", "shell"),
    (".zshrc", "shell"), (".editorconfig", "ini"), ("SConstruct", "python"),
])
def test_special_file_names(path, lang):
    assert language_of(path, "") == lang


def test_c_headers_are_cpp_when_they_use_cpp_syntax():
    assert language_of("x.h", "int f(void);") == "c"
    assert language_of("x.h", "namespace foo {\n}") == "cpp"
    assert language_of("x.h", "template <typename T> T f();") == "cpp"
    assert language_of("x.h", "#include <vector>\n") == "cpp"


def test_objective_c_is_told_from_c_headers_and_matlab_by_content():
    assert language_of("x.h", "#import <Foundation/Foundation.h>\n") == "objective-c"
    assert language_of("x.m", "@implementation Foo\n@end\n") == "objective-c"
    assert language_of("x.m", "function y = f(x)\n  y = x;\nend\n") == "matlab"


@pytest.mark.parametrize("line,lang", [
    ("#!/usr/bin/env python3", "python"), ("#!/usr/bin/python3.11 -u", "python"),
    ("#!/bin/sh", "shell"), ("#! /bin/bash -e", "shell"), ("#!/usr/bin/env zsh", "shell"),
    ("#!/usr/bin/env node", "javascript"), ("#!/usr/bin/env ruby", "ruby"),
    ("#!/usr/bin/perl -w", "perl"), ("#!/usr/bin/env php", "php"),
    ("#!/usr/bin/env lua5.4", "lua"), ("#!/usr/bin/env -S deno run", "typescript"),
    ("#!/usr/bin/env LC_ALL=C python", "python"), ("#!/usr/bin/env Rscript", "r"),
])
def test_files_without_extension_are_named_by_their_shebang(line, lang):
    assert language_of("bin/tool", line + "\nbody\n") == lang


def test_unknown_files_and_interpreters_have_no_language():
    assert language_of("README", "Some words.") is None
    assert language_of("notes.xyz", "print('hi')") is None
    assert shebang_language("#!/usr/bin/env") is None
    assert shebang_language("#!/opt/unknown-tool") is None
    assert shebang_language("no shebang") is None


def test_a_known_extension_wins_over_the_shebang():
    assert language_of("run.py", "#!/bin/sh\n") == "python"


def test_every_returned_name_has_a_kind():
    named = (set(languages.EXTENSIONS.values()) | set(languages.FILE_NAMES.values())
             | set(languages.INTERPRETERS.values()) | {"matlab"})
    assert named <= set(LANGUAGE_KIND)
    assert set(CODEGEN2_LANGUAGES) <= set(LANGUAGE_KIND)
    assert LANGUAGE_KIND["python"] == "programming" and LANGUAGE_KIND["yaml"] == "config"
    assert LANGUAGE_KIND["markdown"] == "markup" and LANGUAGE_KIND["json"] == "data"


@pytest.mark.parametrize("name,lang", [
    ("Python", "python"), ("C++", "cpp"), ("c++", "cpp"), ("C#", "csharp"),
    ("JavaScript", "javascript"), ("Shell", "shell"), ("TypeScript", "typescript"),
    ("Jupyter Notebook", "jupyter"), ("Objective-C", "objective-c"), ("Go", "go"),
    ("Visual Basic", "visual-basic"), ("Emacs Lisp", "emacs-lisp"), ("F#", "fsharp"),
    ("reStructuredText", "restructuredtext"), ("Dockerfile", "dockerfile"),
    ("CMake", "cmake"), ("FORTRAN", "fortran"), ("Protocol Buffer", "protobuf"),
    ("  python ", "python"), ("py", "python"), ("js", "javascript"), ("CUDA", "cpp"),
    ("Vue", "vue"), ("SQL", "sql"), ("Batchfile", "batchfile"),
])
def test_dump_language_names_are_normalised(name, lang):
    assert normalize_language(name) == lang


def test_unknown_language_names_normalise_to_none():
    assert normalize_language("Text") is None
    assert normalize_language("") is None
    assert normalize_language("Klingon Script") is None


@pytest.mark.parametrize("module", ["json", "argparse", "collections", "subprocess", "os",
                                    "re", "typing", "heapq", "difflib", "csv", "ast",
                                    "inspect", "unittest"])
def test_stdlib_docstrings_are_english(module):
    doc = importlib.import_module(module).__doc__
    assert len(doc) > 400 and natural_language(doc) == "en"


@pytest.mark.parametrize("lang,text", [
    ("de", "Der schnelle braune Fuchs springt über den faulen Hund. Es ist nicht einfach, "
           "eine gute Bibliothek zu schreiben, aber wir versuchen es mit Geduld."),
    ("fr", "Le renard brun rapide saute par-dessus le chien paresseux. Il n'est pas facile "
           "d'écrire une bonne bibliothèque, mais nous essayons avec patience."),
    ("es", "El rápido zorro marrón salta sobre el perro perezoso. No es fácil escribir una "
           "buena biblioteca, pero lo intentamos con mucha paciencia."),
    ("pt", "A rápida raposa marrom pula sobre o cão preguiçoso. Não é fácil escrever uma "
           "boa biblioteca, mas tentamos com muita paciência."),
    ("it", "La volpe marrone veloce salta sopra il cane pigro. Non è facile scrivere una "
           "buona libreria, ma ci proviamo con molta pazienza."),
    ("nl", "De snelle bruine vos springt over de luie hond. Het is niet eenvoudig om een "
           "goede bibliotheek te schrijven, maar we proberen het met geduld."),
    ("ru", "Быстрая коричневая лиса прыгает через ленивую собаку. Написать хорошую "
           "библиотеку непросто, но мы стараемся."),
    ("uk", "Швидка руда лисиця перестрибує через ледачого пса. Написати гарну бібліотеку "
           "непросто, але ми намагаємося."),
    ("zh", "敏捷的棕色狐狸跳过了那只懒狗。编写一个好的软件库并不容易，但我们会耐心地努力。"),
    ("ja", "素早い茶色の狐がのろまな犬を飛び越える。良いライブラリを書くのは簡単ではありません。"),
    ("ko", "빠른 갈색 여우가 게으른 개를 뛰어넘습니다. 좋은 라이브러리를 작성하는 것은 쉽지 않습니다."),
    ("ar", "الثعلب البني السريع يقفز فوق الكلب الكسول. ليس من السهل كتابة مكتبة جيدة."),
    ("el", "Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο."),
])
def test_prose_languages(lang, text):
    assert natural_language(text) == lang


def test_chinese_quoting_english_names_is_still_chinese():
    text = "这个函数使用 numpy 和 pandas 来处理数据，返回一个新的 DataFrame 对象。"
    assert natural_language(text) == "zh"


def test_unclear_text_is_text():
    assert natural_language("") == "text"
    assert natural_language("x = 1; y = 2") == "text"
    assert natural_language("12345 !!! ...") == "text"
    assert natural_language("Xyzzy plugh frobozz quux.") == "text"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_language_id_never_raises(path, text):
    lang = language_of(path, text)
    assert lang is None or lang in LANGUAGE_KIND
    assert isinstance(natural_language(text), str)
    assert normalize_language(text) is None or normalize_language(text) in LANGUAGE_KIND


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(), max_size=200))
def test_shebang_lines_of_random_text_never_raise(rest):
    assert language_of("tool", "#!" + rest) in (None, *LANGUAGE_KIND)
