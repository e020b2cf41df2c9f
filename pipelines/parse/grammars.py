"""Which tree-sitter grammar parses which language, loaded once per process.

Every grammar comes from its own wheel on PyPI (``tree-sitter-go``, ``tree-sitter-rust``,
...), pinned in setup.cfg, so a worker has all of them after installing the package and
never downloads anything at run time (``tree-sitter-language-pack`` does, and is not used).
A grammar is imported and built the first time a document of its language arrives, then
cached for the life of the process: a worker that never sees Haskell never loads it.

Names are those of ``pipelines.languages`` (``cpp``, ``csharp``, ``shell``, ...), plus
``tsx``, which ``grammar_name`` picks for TypeScript files ending in ``.tsx``: the TSX
grammar reads JSX, the TypeScript one reads ``<T>x`` type assertions, and neither reads
the other's files.
"""

from __future__ import annotations

import functools
import importlib

import tree_sitter

GRAMMARS: dict[str, tuple[str, str]] = {
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "css": ("tree_sitter_css", "language"),
    "go": ("tree_sitter_go", "language"),
    "haskell": ("tree_sitter_haskell", "language"),
    "html": ("tree_sitter_html", "language"),
    "java": ("tree_sitter_java", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "json": ("tree_sitter_json", "language"),
    "julia": ("tree_sitter_julia", "language"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "lua": ("tree_sitter_lua", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "python": ("tree_sitter_python", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "scala": ("tree_sitter_scala", "language"),
    "shell": ("tree_sitter_bash", "language"),
    "swift": ("tree_sitter_swift", "language"),
    "toml": ("tree_sitter_toml", "language"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "yaml": ("tree_sitter_yaml", "language"),
}
"""Language -> (grammar module, function returning its language pointer). ``php`` is the
grammar that reads a whole ``.php`` file, HTML outside ``<?php`` included."""

WITHOUT_GRAMMAR: dict[str, str] = {
    "r": "no tree-sitter grammar wheel for R on PyPI (only an npm package)",
}
"""Languages the recipes train on that have no usable grammar wheel, and why; their
documents pass through unparsed, counted per language."""

LANGUAGES: tuple[str, ...] = tuple(sorted(GRAMMARS))
"""Languages with a grammar; every other language passes through unparsed."""

_ALIASES = {"c++": "cpp", "c#": "csharp", "cs": "csharp", "js": "javascript", "py": "python",
            "python3": "python", "bash": "shell", "sh": "shell", "ts": "typescript",
            "golang": "go", "yml": "yaml", "rb": "ruby", "rs": "rust", "kt": "kotlin"}


def canonical_language(lang: str) -> str | None:
    """The registry name for ``lang`` (case-insensitive; common aliases such as ``c++``,
    ``js``, ``bash`` accepted), or None when no grammar is registered for it."""
    name = lang.strip().lower()
    name = _ALIASES.get(name, name)
    return name if name in GRAMMARS else None


def grammar_name(lang: str, path: str = "") -> str | None:
    """The grammar for a document of language ``lang`` at ``path``: ``canonical_language``,
    except that a TypeScript file named ``*.tsx`` gets the TSX grammar."""
    name = canonical_language(lang)
    if name == "typescript" and path.lower().endswith(".tsx"):
        return "tsx"
    return name


@functools.cache
def language(name: str) -> tree_sitter.Language:
    """The grammar of a registered language, imported and built once per process."""
    module, function = GRAMMARS[name]
    return tree_sitter.Language(getattr(importlib.import_module(module), function)())
