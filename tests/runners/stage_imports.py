"""Run by test_worker_package.py with the python of a clean venv holding only the worker
package: imports every build module, parses a function with every grammar and loads the
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
    "java": "class M {\n    int add(int a, int b) {\n        return a + b;\n    }\n}\n",
    "javascript": "function add(a, b) {\n  return a + b;\n}\n",
    "python": "def add(a, b):\n    return a + b\n",
}
"""One function named ``add`` per language; a grammar without a snippet is a KeyError."""


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
        result = parsers.analyze(SNIPPETS[lang], lang)
        parsed[lang] = {"functions": [f.name for f in result.functions],
                        "has_error": result.has_error}
    json.dump({"modules": modules, "parsed": parsed,
               "humaneval_runs": len(BenchmarkIndex(DecontamSpec()).runs),
               "torch_imported": "torch" in sys.modules}, sys.stdout)


if __name__ == "__main__":
    main()
