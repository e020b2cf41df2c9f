"""Helpers for the trainer's tests: a small real corpus, a config, a trainer run.

``build_manifest`` writes what a codemix build writes, from plain texts per component:
a byte-level BPE ``tokenizer.json`` trained with HF ``tokenizers`` (special tokens first, in
``SPECIAL_TOKENS`` order, so their ids match), shards per component written with
``shards.write_shard``, and ``manifest.json`` written with ``shards.write_manifest``.
``write_train_config`` writes a tiny training config for any manifest (a pipeline-built one
too), ``torchrun`` starts the trainer as a subprocess and ``read_metrics`` reads its log.
``ranged_document`` and ``write_ranged_shard`` make documents with top-level definition spans
and loss-mask ranges, as the build stores them (``shards.ranges``).

Import it from a test under ``tests/training`` as ``from corpus_builder import ...``
(pytest puts this folder on ``sys.path``); ``conftest.py`` wraps it in fixtures.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from typing import NamedTuple

import numpy as np
import yaml
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from pipelines.spans import assemble, cut
from shards import (ComponentEntry, Manifest, Shard, ShardEntry, TokenizerEntry,
                    dtype_for_vocab, write_manifest, write_shard)
from shards.format import file_sha256
from shards.manifest import MANIFEST_VERSION, config_hash
from shards.ranges import NO_LOSS, SPANS
from tokenizer.encode import encode_batch
from tokenizer.special_tokens import SPECIAL_TOKENS

REPO = Path(__file__).resolve().parents[2]


def train_tokenizer(texts: Sequence[str], vocab_size: int,
                    special_tokens: Sequence[str] = SPECIAL_TOKENS) -> Tokenizer:
    """A byte-level BPE whose first ids are ``special_tokens`` (``SPECIAL_TOKENS``), in
    order; a GPT-2-like tokenizer brought by a user when given none."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def _kind(name: str) -> str:
    return "code" if name.startswith("code") else "pair" if name.startswith("pair") else "text"


def build_manifest(root: str | os.PathLike, texts: Mapping[str, Sequence[str]], *,
                   mixing: Mapping[str, Mapping[str, float | None]] | None = None,
                   vocab_size: int = 512, docs_per_shard: int = 200,
                   tokenizer: Tokenizer | None = None) -> str:
    """Write a tokenizer, shards and manifest.json under ``root``, as a build would.

    Args:
        root: output folder (created); the manifest is ``root/manifest.json``.
        texts: component name -> its documents.
        mixing: component name -> ``{"weight": w}`` or ``{"epochs": e}``; a component not
            named gets ``epochs: 1``.
        vocab_size: BPE vocabulary size, special tokens included.
        docs_per_shard: documents per shard, so a component can span several shards.
        tokenizer: encode with this tokenizer instead of training one on ``texts``.

    Returns:
        The manifest's path.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tok = tokenizer or train_tokenizer([t for docs in texts.values() for t in docs],
                                       vocab_size)
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    tok.save(str(root / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    dtype = dtype_for_vocab(vocab)
    mixing = dict(mixing or {})
    components = []
    for name in sorted(texts):
        docs = list(texts[name])
        ids = [np.asarray(e.ids, dtype=dtype) for e in tok.encode_batch(docs)]
        entries = []
        for n, lo in enumerate(range(0, len(ids), docs_per_shard)):
            chunk = ids[lo:lo + docs_per_shard]
            rel = f"{name}/{n:05d}.shard"
            info = write_shard(str(root / rel),
                               [(a, {"id": f"{name}/{lo + j}"}) for j, a in enumerate(chunk)],
                               dtype)
            entries.append(ShardEntry(path=rel, sha256=info.sha256, docs=info.docs,
                                      tokens=info.tokens))
        mix = mixing.get(name, {"epochs": 1.0})
        components.append(ComponentEntry(
            name=name, kind=_kind(name), weight=mix.get("weight"), epochs=mix.get("epochs"),
            docs=sum(e.docs for e in entries), tokens=sum(e.tokens for e in entries),
            shards=tuple(entries)))
    config = {"fixture": "tests/training/conftest.py", "components": sorted(texts),
              "mixing": {k: dict(v) for k, v in sorted(mixing.items())}}
    manifest = Manifest(
        format_version=MANIFEST_VERSION, token_dtype=dtype.name,
        tokenizer=TokenizerEntry(path="tokenizer.json",
                                 sha256=file_sha256(str(root / "tokenizer.json")),
                                 vocab_size=vocab,
                                 special_tokens={t: tok.token_to_id(t) for t in SPECIAL_TOKENS}),
        config=config, config_hash=config_hash(config), components=tuple(components))
    path = str(root / "manifest.json")
    write_manifest(manifest, path)
    return path


def stdlib_texts(max_bytes: int = 300_000) -> dict[str, list[str]]:
    """Real text from Python's standard library: source files, and their docstrings.

    Returns ``{"code-python": [...], "text-docs": [...]}``, files in sorted order until
    ``max_bytes`` of source is collected.
    """
    code, docs, total = [], [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if total + len(text) > max_bytes:
            continue
        code.append(text)
        total += len(text)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 40:
                    docs.append(doc)
    return {"code-python": code, "text-docs": docs}


def write_train_config(path: str | os.PathLike, manifest: str, output_dir: str | os.PathLike,
                       **sections: Mapping[str, Any]) -> str:
    """Write a tiny training config for ``manifest``; ``sections`` update its sections."""
    cfg: dict[str, dict[str, Any]] = {
        "model": {"dim": 64, "n_layers": 2, "n_heads": 4, "mlp_ratio": 2.0},
        "data": {"manifest": str(manifest), "seq_len": 64, "global_batch_size": 8, "seed": 0},
        "optim": {"lr": 1.0e-2, "warmup_steps": 5, "min_lr_ratio": 0.1},
        "training": {"steps": 30, "log_every": 5, "output_dir": str(output_dir)},
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    Path(path).write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return str(path)


def run_codemix(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``codemix ARGV`` run in this process."""
    from codemix.cli import main as codemix

    status = codemix(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(err: str, fragment: str) -> None:
    """``err`` is one ``codemix: error:`` line that contains ``fragment``."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codemix: error:") and fragment in lines[0], err


def torchrun(args: Sequence[str], nproc: int = 2,
             timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``python -m torch.distributed.run --standalone ... -m training.train ARGS``."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", str(nproc), "-m", "training.train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def read_metrics(output_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The entries of ``output_dir/metrics.jsonl``."""
    with open(Path(output_dir) / "metrics.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class RangedDocument(NamedTuple):
    """A document as the build stores it, with its ranges.

    Attributes:
        text: the text, marks removed.
        ids: its token ids (uint32).
        meta: its shard metadata: ``spans`` and ``no_loss`` token ranges, where it has any.
        chars: the same ranges in characters of ``text``, by the same keys.
    """

    text: str
    ids: np.ndarray
    meta: dict[str, list[list[int]]]
    chars: dict[str, list[tuple[int, int]]]


MARKS = {"«": ("»", SPANS), "⟦": ("⟧", NO_LOSS)}
"""Opening mark -> its closing mark and the range it makes."""


def ranged_document(tok: Tokenizer, marked: str) -> RangedDocument:
    """A document written with its ranges marked: ``«...»`` around each top-level
    definition, ``⟦...⟧`` around text that takes no loss (marks may nest, not overlap).

    The text is cut at every range edge and the pieces encoded apart, as the build does
    (``pipelines.spans.cut`` and ``assemble``), so the edges are token boundaries.
    """
    text: list[str] = []
    chars: dict[str, list[tuple[int, int]]] = {SPANS: [], NO_LOSS: []}
    opened: dict[str, int] = {}
    closing = {close: (opening, key) for opening, (close, key) in MARKS.items()}
    for ch in marked:
        if ch in MARKS:
            opened[ch] = len(text)
        elif ch in closing:
            opening, key = closing[ch]
            chars[key].append((opened.pop(opening), len(text)))
        else:
            text.append(ch)
    plain = "".join(text)
    chars = {key: sorted(found) for key, found in chars.items() if found}
    pieces = cut(plain, chars)
    ids, meta = assemble(pieces, encode_batch(tok, pieces), chars)
    return RangedDocument(plain, ids, meta, chars)


def write_ranged_shard(url: str, documents: Sequence[RangedDocument]) -> Shard:
    """Write ``documents`` as one shard (uint32 ids, their ranges as metadata); open it."""
    write_shard(url, [(d.ids, d.meta) for d in documents], "uint32")
    return Shard(url)
