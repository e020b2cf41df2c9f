"""``codemix init``: a starter config that loads, plans and builds as written."""

from __future__ import annotations

import ast
import gzip
import json
import os
import pathlib
import subprocess
import sys

from pipelines.config import load_config

REPO = pathlib.Path(__file__).resolve().parents[1]
STDLIB = pathlib.Path(os.__file__).parent


def _codemix(*args: str, cwd: pathlib.Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "codemix", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _inputs(root: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    code = root / "my-repo"
    (code / ".git").mkdir(parents=True)
    for name in ("bisect.py", "graphlib.py", "colorsys.py"):
        (code / name).write_text((STDLIB / name).read_text())
    text = root / "notes.jsonl.gz"
    docs = [ast.get_docstring(ast.parse(p.read_text())) or "" for p in sorted(STDLIB.glob("*.py"))]
    with gzip.open(text, "wt") as f:
        for doc in [d for d in docs if len(d.split()) >= 200][:10]:
            f.write(json.dumps({"text": doc}) + "\n")
    return code, text


def test_the_starter_config_builds_as_written(tmp_path):
    code, text = _inputs(tmp_path)
    result = _codemix("init", str(code), str(text), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote codemix.yaml; next: codemix build codemix.yaml --plan\n"
    written = (tmp_path / "codemix.yaml").read_text()
    assert "format: git" in written  # the checkout's comment
    config = load_config(str(tmp_path / "codemix.yaml"))
    assert [(c.name, c.kind, c.weight, [i.format for i in c.inputs])
            for c in config.components] == [("code", "code", 0.8, ["folder"]),
                                              ("text", "text", 0.2, ["jsonl"])]
    assert (config.tokenizer.vocab_size, config.shards.target_tokens) == (8192, 5_000_000)
    assert config.output == "out/my-repo"

    plan = _codemix("build", "codemix.yaml", "--plan", cwd=tmp_path)
    assert plan.returncode == 0 and plan.stdout.endswith("nothing was written\n"), plan.stderr
    build = _codemix("build", "codemix.yaml", "-q", cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    manifest = json.loads((tmp_path / "out" / "my-repo" / "manifest.json").read_text())
    docs = {c["name"]: c["docs"] for c in manifest["components"]}
    assert docs["code"] == 3 and docs["text"] > 0


def test_init_never_overwrites_and_says_why_in_one_line(tmp_path):
    code, _ = _inputs(tmp_path)
    (tmp_path / "codemix.yaml").write_text("mine\n")
    for args, fragment in (([str(code)], "codemix.yaml exists"),
                           ([str(tmp_path / "nope"), "--config", "y.yaml"], "no such file or folder"),
                           ([str(STDLIB / "os.py"), "--config", "x.yaml"], "not a folder")):
        result = _codemix("init", *args, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.startswith("codemix: error: ") and fragment in result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert (tmp_path / "codemix.yaml").read_text() == "mine\n"
