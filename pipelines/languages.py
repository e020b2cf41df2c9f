"""Which language a document is written in: programming language for code, ISO 639-1 code
for prose.

Code is identified the way GitHub's linguist starts: special file names (``Makefile``,
``Dockerfile``), then the extension, then the ``#!`` line of files without a known
extension. Content settles only the ambiguous cases that matter here: a ``.h`` header is
C++ when it uses C++-only syntax and Objective-C when it uses ``@interface`` or
``#import``; a ``.m`` file is Objective-C or MATLAB by the same markers. Names follow the
19 languages of CodeGen2 (``c``, ``cpp``, ``csharp``, ...) plus markup and config formats;
``normalize_language`` maps the names dumps use (The Stack's ``C++``, linguist's ``Jupyter
Notebook``) onto them.

Prose is identified without a model: the dominant Unicode script names the language where
a script belongs to one (Han, kana, Hangul, Greek, Hebrew, Thai, ...), and Latin-script text
is scored by its overlap with the commonest function words of English, German, French,
Spanish, Portuguese, Italian and Dutch. That is far less accurate than fastText's lid.176
on short or mixed text, but it needs no weights, is deterministic, and is right on the
paragraphs of prose this corpus holds; anything unclear is ``text``.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections import Counter

# ---------------------------------------------------------------------------- code

LANGUAGE_KIND: dict[str, str] = {
    **dict.fromkeys((
        "ada", "assembly", "awk", "batchfile", "c", "clojure", "cmake", "cobol",
        "coffeescript", "common-lisp", "cpp", "crystal", "csharp", "cython", "dart",
        "dockerfile", "elixir", "elm", "emacs-lisp", "erlang", "fish", "fortran", "fsharp",
        "glsl", "go", "groovy", "haskell", "hcl", "java", "javascript", "julia", "kotlin",
        "lua", "makefile", "matlab", "nim", "nix", "objective-c", "objective-cpp", "ocaml",
        "pascal", "perl", "php", "powershell", "python", "r", "racket", "ruby", "rust",
        "scala", "scheme", "shell", "solidity", "sql", "starlark", "svelte", "swift", "tcl",
        "typescript", "verilog", "vhdl", "vimscript", "visual-basic", "vue", "zig"),
        "programming"),
    **dict.fromkeys(("asciidoc", "css", "html", "less", "markdown", "restructuredtext",
                     "scss", "tex", "xml"), "markup"),
    **dict.fromkeys(("ini", "properties", "toml", "yaml"), "config"),
    **dict.fromkeys(("csv", "graphql", "json", "jupyter", "protobuf", "tsv"), "data"),
}
"""Every language name ``language_of`` returns -> its kind: ``programming``, ``markup``
(documents and styles), ``config`` or ``data``, so filters can treat, say, comment
fractions as meaningful for programming languages only."""

CODEGEN2_LANGUAGES = ("c", "cpp", "csharp", "dart", "go", "java", "javascript", "kotlin",
                      "lua", "php", "python", "ruby", "rust", "scala", "shell", "sql",
                      "swift", "typescript", "vue")
"""The languages of CodeGen2's training mix, under the names used here."""

_EXTENSIONS = {
    "python": ".py .pyi .pyw", "cython": ".pyx .pxd .pxi",
    "c": ".c .h", "cpp": ".cc .cpp .cxx .c++ .hpp .hh .hxx .h++ .ipp .tpp .inl .cu .cuh .ino",
    "csharp": ".cs .csx", "dart": ".dart", "go": ".go", "java": ".java",
    "javascript": ".js .mjs .cjs .jsx", "typescript": ".ts .tsx .mts .cts",
    "kotlin": ".kt .kts", "lua": ".lua", "php": ".php .phtml .php3 .php4 .php5",
    "ruby": ".rb .rake .gemspec .ru", "rust": ".rs", "scala": ".scala .sc .sbt",
    "shell": ".sh .bash .zsh .ksh .bats", "fish": ".fish", "sql": ".sql .pgsql .psql",
    "swift": ".swift", "vue": ".vue", "svelte": ".svelte",
    "objective-c": ".m", "objective-cpp": ".mm", "perl": ".pl .pm .pod", "r": ".r",
    "julia": ".jl", "haskell": ".hs .lhs", "elixir": ".ex .exs", "erlang": ".erl .hrl",
    "clojure": ".clj .cljs .cljc .edn", "ocaml": ".ml .mli", "fsharp": ".fs .fsi .fsx",
    "groovy": ".groovy .gradle", "powershell": ".ps1 .psm1 .psd1", "batchfile": ".bat .cmd",
    "visual-basic": ".vb .vbs", "assembly": ".asm .s", "fortran": ".f90 .f95 .f03 .f08",
    "pascal": ".pas", "ada": ".adb .ads", "cobol": ".cob .cbl", "zig": ".zig", "nim": ".nim",
    "crystal": ".cr", "elm": ".elm", "coffeescript": ".coffee", "tcl": ".tcl", "awk": ".awk",
    "vimscript": ".vim", "emacs-lisp": ".el", "common-lisp": ".lisp .lsp",
    "scheme": ".scm .ss", "racket": ".rkt", "nix": ".nix", "solidity": ".sol",
    "verilog": ".sv .svh", "vhdl": ".vhd .vhdl", "glsl": ".glsl .vert .frag .comp",
    "hcl": ".tf .hcl", "starlark": ".bzl .star", "cmake": ".cmake",
    "makefile": ".mk .mak", "dockerfile": ".dockerfile",
    "markdown": ".md .markdown .mdown .mkd .mdx", "restructuredtext": ".rst .rest",
    "asciidoc": ".adoc .asciidoc", "tex": ".tex .sty .cls", "html": ".html .htm .xhtml",
    "css": ".css", "scss": ".scss .sass", "less": ".less",
    "xml": ".xml .xsd .xsl .xslt .plist .csproj .vcxproj .props .targets",
    "json": ".json .jsonc .json5 .geojson", "jupyter": ".ipynb", "yaml": ".yml .yaml",
    "toml": ".toml", "ini": ".ini .cfg", "properties": ".properties",
    "csv": ".csv", "tsv": ".tsv", "protobuf": ".proto", "graphql": ".graphql .gql",
}
EXTENSIONS: dict[str, str] = {ext: lang for lang, exts in _EXTENSIONS.items()
                              for ext in exts.split()}
"""Lower-cased file extension -> language."""

FILE_NAMES: dict[str, str] = {
    **dict.fromkeys(("Makefile", "makefile", "GNUmakefile", "BSDmakefile"), "makefile"),
    **dict.fromkeys(("Dockerfile", "Containerfile", "dockerfile"), "dockerfile"),
    "CMakeLists.txt": "cmake",
    **dict.fromkeys(("Rakefile", "Gemfile", "Guardfile", "Podfile", "Fastfile", "Vagrantfile",
                     "Brewfile", "Capfile", "Dangerfile", ".irbrc", ".pryrc"), "ruby"),
    "Jenkinsfile": "groovy",
    **dict.fromkeys(("BUILD", "BUILD.bazel", "WORKSPACE", "WORKSPACE.bazel", "MODULE.bazel",
                     "Tiltfile"), "starlark"),
    **dict.fromkeys(("SConstruct", "SConscript", "wscript", "Snakefile"), "python"),
    **dict.fromkeys((".bashrc", ".bash_profile", ".bash_aliases", ".bash_logout", ".profile",
                     ".zshrc", ".zprofile", ".zshenv", ".zlogin", ".kshrc", "PKGBUILD",
                     "APKBUILD"), "shell"),
    ".vimrc": "vimscript", ".emacs": "emacs-lisp",
    **dict.fromkeys((".editorconfig", ".gitconfig", ".gitmodules", ".npmrc", ".pylintrc"), "ini"),
    **dict.fromkeys((".babelrc", ".eslintrc", ".jshintrc", ".prettierrc"), "json"),
    **dict.fromkeys((".clang-format", ".clang-tidy"), "yaml"),
    "Pipfile": "toml",
}
"""Exact file names (no usable extension) -> language. ``Makefile.*`` and ``Dockerfile.*``
(``Dockerfile.dev``) are recognised by prefix too."""

INTERPRETERS: dict[str, str] = {
    "python": "python", "pypy": "python",
    **dict.fromkeys(("sh", "bash", "zsh", "ksh", "dash", "ash", "mksh"), "shell"),
    "fish": "fish", "node": "javascript", "nodejs": "javascript", "ts-node": "typescript",
    "deno": "typescript", "ruby": "ruby", "perl": "perl", "php": "php", "lua": "lua",
    "luajit": "lua", "rscript": "r", "julia": "julia", "tclsh": "tcl", "wish": "tcl",
    "awk": "awk", "gawk": "awk", "make": "makefile", "pwsh": "powershell", "groovy": "groovy",
    "scala": "scala", "swift": "swift", "elixir": "elixir", "escript": "erlang",
    "runghc": "haskell", "runhaskell": "haskell", "guile": "scheme", "racket": "racket",
    "sbcl": "common-lisp", "dart": "dart", "crystal": "crystal", "kotlin": "kotlin",
}
"""Interpreter named on a ``#!`` line (version digits stripped) -> language."""

_CPP_IN_HEADER = re.compile(r"^\s*(namespace\s+\w+|template\s*<|class\s+\w+\s*[:{]|"
                            r"#include\s*<(iostream|string|vector|memory|cstdint)>)", re.M)
_OBJC = re.compile(r"^\s*(@interface|@implementation|@protocol|#import)\b", re.M)
_SHEBANG = re.compile(r"#!\s*(\S+)([^\n]*)")
_ENV_ARG = re.compile(r"-\S*|\w+=\S*")
_HEAD_CHARS = 16_384  # enough for a license comment and the includes


def language_of(path: str, text: str) -> str | None:
    """The programming or markup language of a file, or None when it cannot be told.

    Args:
        path: the file's path (only the last element and its extension are looked at).
        text: its content; only the head of ``.h``/``.m`` files and the ``#!`` line of
            files without a known name or extension are read.

    Returns:
        A key of ``LANGUAGE_KIND``, or None.
    """
    name = posixpath.basename(path)
    if name in FILE_NAMES:
        return FILE_NAMES[name]
    if name.startswith(("Makefile.", "GNUmakefile.")):
        return "makefile"
    if name.startswith(("Dockerfile.", "Containerfile.")):
        return "dockerfile"
    ext = posixpath.splitext(name)[1].lower()
    lang = EXTENSIONS.get(ext)
    if ext == ".h":
        head = text[:_HEAD_CHARS]
        if _OBJC.search(head):
            return "objective-c"
        if _CPP_IN_HEADER.search(head):
            return "cpp"
    if ext == ".m" and not _OBJC.search(text[:_HEAD_CHARS]):
        return "matlab"
    return lang or shebang_language(text)


def shebang_language(text: str) -> str | None:
    """The language named by a ``#!`` first line (``#!/usr/bin/env python3``,
    ``#!/bin/sh``), or None."""
    if not text.startswith("#!"):
        return None
    match = _SHEBANG.match(text[:256].split("\n", 1)[0])
    if not match:
        return None
    program, rest = posixpath.basename(match[1]), match[2].split()
    if program == "env":
        # `env [-S] [VAR=value ...] program`: skip options and assignments.
        rest = [arg for arg in rest if not _ENV_ARG.fullmatch(arg)]
        if not rest:
            return None
        program = posixpath.basename(rest[0])
    program = re.sub(r"[\d.]+$", "", program.lower())
    return INTERPRETERS.get(program)


_ALIASES = {
    "c++": "cpp", "c plus plus": "cpp", "cuda": "cpp", "arduino": "cpp", "c#": "csharp",
    "c sharp": "csharp", "f#": "fsharp", "golang": "go", "js": "javascript", "node": "javascript",
    "nodejs": "javascript", "ecmascript": "javascript", "jsx": "javascript",
    "tsx": "typescript", "py": "python", "python3": "python", "python2": "python",
    "py3": "python", "bash": "shell", "sh": "shell", "zsh": "shell", "shell script": "shell",
    "shellscript": "shell", "jupyter notebook": "jupyter", "ipython notebook": "jupyter",
    "objective c": "objective-c", "objc": "objective-c", "obj c": "objective-c",
    "objective c++": "objective-cpp", "objective cpp": "objective-cpp",
    "rst": "restructuredtext", "restructured text": "restructuredtext",
    "plsql": "sql", "pl/sql": "sql", "tsql": "sql", "t sql": "sql", "mysql": "sql",
    "plpgsql": "sql", "postgresql": "sql", "sqlpl": "sql", "html+erb": "html",
    "batch": "batchfile", "dos": "batchfile", "vba": "visual-basic",
    "visual basic .net": "visual-basic", "vb.net": "visual-basic", "vb": "visual-basic",
    "emacs lisp": "emacs-lisp", "elisp": "emacs-lisp", "common lisp": "common-lisp",
    "vim script": "vimscript", "viml": "vimscript", "vim": "vimscript",
    "systemverilog": "verilog", "protocol buffer": "protobuf", "protocol buffers": "protobuf",
    "terraform": "hcl", "bazel": "starlark", "gas": "assembly", "nasm": "assembly",
    "tex": "tex", "latex": "tex", "make": "makefile", "docker": "dockerfile",
    "java properties": "properties", "sass": "scss", "yml": "yaml",
}


def normalize_language(name: str) -> str | None:
    """The name used here for a language as a dump spells it (The Stack's ``C++``,
    ``Jupyter Notebook``; linguist names; file extensions like ``py``), or None.

    Matching ignores case and treats runs of spaces, ``_`` and ``-`` alike.
    """
    key = re.sub(r"[\s_-]+", " ", name.strip().lower())
    if key in _ALIASES:
        return _ALIASES[key]
    dashed = key.replace(" ", "-")
    if dashed in LANGUAGE_KIND:
        return dashed
    return EXTENSIONS.get("." + key) if key and " " not in key else None


# --------------------------------------------------------------------------- prose

_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "latin"), (0x0370, 0x03FF, "el"), (0x0400, 0x052F, "cyrillic"),
    (0x0530, 0x058F, "hy"), (0x0590, 0x05FF, "he"), (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"), (0x0900, 0x097F, "hi"), (0x0980, 0x09FF, "bn"),
    (0x0A00, 0x0A7F, "pa"), (0x0A80, 0x0AFF, "gu"), (0x0B80, 0x0BFF, "ta"),
    (0x0C00, 0x0C7F, "te"), (0x0C80, 0x0CFF, "kn"), (0x0D00, 0x0D7F, "ml"),
    (0x0D80, 0x0DFF, "si"), (0x0E00, 0x0E7F, "th"), (0x0E80, 0x0EFF, "lo"),
    (0x0F00, 0x0FFF, "bo"), (0x1000, 0x109F, "my"), (0x10A0, 0x10FF, "ka"),
    (0x1100, 0x11FF, "ko"), (0x1200, 0x137F, "am"), (0x1780, 0x17FF, "km"),
    (0x1E00, 0x1EFF, "latin"), (0x3040, 0x30FF, "kana"), (0x3130, 0x318F, "ko"),
    (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"), (0xAC00, 0xD7AF, "ko"),
    (0xF900, 0xFAFF, "han"),
)
_SCRIPT_STARTS = [start for start, _, _ in _SCRIPTS]

_STOPWORDS = {
    "en": "the a of and to in is that for it with as was on be by this are or from at an "
          "which not have has but they their can will you we if its been were all would",
    "de": "der die und das ist nicht ein eine den dem des zu mit sich auf für von im auch "
          "es sie als wird werden wir ich oder aber bei nach noch wie einer sind war",
    "fr": "le la les des et est une un du que qui dans pour pas sur au avec ce il elle sont "
          "ou par plus nous vous se sa son aux cette mais ont été être",
    "es": "el la los las de que y en un una es por con para no se del al lo como más pero "
          "sus su este esta son está hay fue muy también sobre entre cuando",
    "pt": "o a os as de que e é do da em um uma para com não se na no dos das por mais ao "
          "como mas foi são seu sua ou quando muito também está isso",
    "it": "il lo la gli le di che e è a un una per non con del della in sono si da dei al "
          "nel come più ma anche questo questa delle alla era essere",
    "nl": "de het een en van is dat in op te zijn niet met voor er aan ook als bij door "
          "maar om dan nog wordt worden naar uit deze hij ze wij",
}
_WORDS = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}
_LATIN_WORD = re.compile(r"[^\W\d_]+")
_SAMPLE_CHARS = 20_000
_MIN_LETTERS = 10
_MIN_STOPWORD_SHARE = 0.05
_MIN_MARGIN = 1.25


def natural_language(text: str) -> str:
    """The ISO 639-1 code of a piece of prose, or ``text`` when unsure.

    Args:
        text: the document; only its first 20,000 characters are looked at.

    Returns:
        ``en``, ``de``, ``fr``, ``es``, ``pt``, ``it``, ``nl`` for Latin script (by function
        words), ``ru``/``uk`` for Cyrillic, ``zh``/``ja``/``ko`` for CJK, ``ar``/``fa`` for
        Arabic script, the script's language for single-language scripts (``el``, ``he``,
        ``th``, ``hi``, ...), else ``text``.
    """
    sample = text[:_SAMPLE_CHARS]
    if sample.isascii():  # the common case, and all of it Latin script
        return _latin_language(sample)
    scripts = Counter(_script(ch) for ch in sample if ch.isalpha())
    scripts.pop(None, None)
    if sum(scripts.values()) < _MIN_LETTERS:
        return "text"
    # A Han character is a word or most of one, not a letter: weigh it like a short word
    # so that a Chinese page quoting English names is still Chinese.
    weighted = scripts + Counter({"han": 2 * scripts["han"]})
    script = weighted.most_common(1)[0][0]
    if script == "latin":
        return _latin_language(sample)
    if script in ("han", "kana"):
        # Japanese writes its grammar in kana; Chinese has none.
        return "ja" if scripts["kana"] * 5 >= scripts["han"] else "zh"
    if script == "cyrillic":
        return "uk" if re.search("[іїєґ]", sample.lower()) else "ru"
    if script == "arabic":
        return "fa" if re.search("[پچژگ]", sample) else "ar"
    return script


def _script(ch: str) -> str | None:
    """The script group of one letter (see ``_SCRIPTS``), or None for others."""
    code = ord(ch)
    i = bisect.bisect_right(_SCRIPT_STARTS, code) - 1  # the last range starting at or before
    if i < 0:
        return None
    _, end, script = _SCRIPTS[i]
    return script if code <= end else None


def _latin_language(sample: str) -> str:
    """The Latin-script language whose function words the sample uses most, if clearly."""
    words = [w.lower() for w in _LATIN_WORD.findall(sample)]
    if not words:
        return "text"
    hits = {lang: sum(1 for w in words if w in vocab) for lang, vocab in _WORDS.items()}
    ranked = sorted(hits.items(), key=lambda kv: kv[1], reverse=True)
    (best, best_hits), (_, second_hits) = ranked[0], ranked[1]
    if best_hits < max(2, _MIN_STOPWORD_SHARE * len(words)):
        return "text"
    if best_hits < _MIN_MARGIN * second_hits:
        return "text"
    return best
