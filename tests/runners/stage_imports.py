"""Run by test_worker_package.py with the python of a clean venv holding only the worker
package: imports every build module, parses a document with every grammar and loads the
shipped benchmark, then prints what it found as JSON on stdout."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

PACKAGES = ("codemix", "configuration", "dedup", "pipelines", "shards", "tokenizer")
"""Everything a build worker runs; ``training`` needs torch, which workers do not install."""

SNIPPETS = {
    "c": "int add(int a, int b) {\n    return a + b;\n}\n",
    "cpp": "template <typename T>\nT add(T a, T b) {\n    return a + b;\n}\n",
    "csharp": "class M {\n    int add(int a, int b) {\n        return a + b;\n    }\n}\n",
    "go": "package m\n\nfunc add(a, b int) int {\n\treturn a + b\n}\n",
    "haskell": "add :: Int -> Int -> Int\nadd a b = a + b\n",
    "java": "class M {\n    int add(int a, int b) {\n        return a + b;\n    }\n}\n",
    "javascript": "function add(a, b) {\n  return a + b;\n}\n",
    "julia": "function add(a, b)\n    return a + b\nend\n",
    "kotlin": "fun add(a: Int, b: Int): Int {\n    return a + b\n}\n",
    "lua": "function add(a, b)\n  return a + b\nend\n",
    "php": "<?php\nfunction add($a, $b) {\n    return $a + $b;\n}\n",
    "python": "def add(a, b):\n    return a + b\n",
    "ruby": "def add(a, b)\n  a + b\nend\n",
    "rust": "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
    "scala": "object M {\n  def add(a: Int, b: Int): Int = a + b\n}\n",
    "shell": "add() {\n  echo $(($1 + $2))\n}\n",
    "swift": "func add(a: Int, b: Int) -> Int {\n    return a + b\n}\n",
    "tsx": "function add(a: number, b: number): number {\n  return a + b;\n}\n",
    "typescript": "function add(a: number, b: number): number {\n  return a + b;\n}\n",
}
"""One function named ``add`` per programming language."""

DATA = {
    "css": "a { color: red; }\n",
    "html": "<p>add</p>\n",
    "json": '{"add": 1}\n',
    "toml": "add = 1\n",
    "yaml": "add: 1\n",
}
"""One small document per language parsed for syntax health only; a grammar in neither
table is a KeyError."""

def main() -> None:
    modules = {}
    for name in PACKAGES:
        package = importlib.import_module(name)
        modules[name] = package.__file__
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not info.name.endswith(".__main__"):  # runs the command when imported
                modules[info.name] = importlib.import_module(info.name).__file__

    from pipelines.config import DecontamSpec
    from pipelines.decontam import BenchmarkIndex
    from pipelines.parse import LANGUAGES, Parsers

    parsers = Parsers(LANGUAGES)
    parsed = {}
    for lang in LANGUAGES:
        result = parsers.analyze(SNIPPETS[lang] if lang in SNIPPETS else DATA[lang], lang)
        parsed[lang] = {"functions": [f.name for f in result.functions],
                        "has_error": result.has_error}
    json.dump({"modules": modules, "parsed": parsed,
               "humaneval_runs": len(BenchmarkIndex(DecontamSpec()).runs),
               "torch_imported": "torch" in sys.modules}, sys.stdout)


if __name__ == "__main__":
    main()
