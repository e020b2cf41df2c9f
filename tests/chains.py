"""Documents in chains of near duplicates, for dedup tests that need clusters joined only
through a chain (A~B, B~C, A!~C).

A chain is windows of ``words`` words over one random word stream, each ``step`` words
after the previous one. With 5-word shingles, 200 words and a step of 20, neighbours share
176 of their 196 shingles (Jaccard 176/216 = 0.81) and documents two apart 156 (156/236 =
0.66), so at a threshold of 0.7 each link is a near duplicate and its ends are not.
"""

from __future__ import annotations

import json
import pathlib
import random
from typing import Any

import yaml

VOCAB = [f"{a}{b}" for a in ("lorem", "ipsum", "dolor", "amet", "elit", "sed", "magna",
                                "tempor", "labore", "dolore") for b in range(100)]
"""1,000 words that tokenise and filter like prose words."""


def chain_texts(rng: random.Random, links: int, words: int = 200, step: int = 20) -> list[str]:
    """``links`` documents, each the window of ``words`` words ``step`` after the last."""
    stream = [rng.choice(VOCAB) for _ in range(words + step * (links - 1))]
    return [" ".join(stream[i * step:i * step + words]) for i in range(links)]


def chained_corpus(seed: int, chains: int, links: int, singles: int = 0,
                   steps: tuple[int, ...] = (20,)) -> list[str]:
    """``chains`` chains of ``links`` documents and ``singles`` unrelated documents; chain
    ``i`` steps ``steps[i % len(steps)]`` words. A step of ``s`` gives documents two apart
    a Jaccard of ``(196 - 2s) / (196 + 2s)``: 15 -> 0.73, 17 -> 0.70, 19 -> 0.68, so
    steps around 17 put them on both sides of 0.7, where exact and estimated Jaccard
    disagree."""
    rng = random.Random(seed)
    texts = [t for i in range(chains) for t in chain_texts(rng, links, step=steps[i % len(steps)])]
    return texts + [t for _ in range(singles) for t in chain_texts(rng, 1)]


def write_chain_build(root: pathlib.Path, texts: list[str], **dedup: Any) -> pathlib.Path:
    """A build config over ``texts`` (one JSONL text component, ``text``) with ``dedup``
    settings; returns its path. The output folder is ``root / "out"``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "docs.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    spec = {"output": str(root / "out"),
            "components": {"text": {"kind": "text", "weight": 1.0, "inputs": [
                {"url": str(root / "docs.jsonl"), "format": "jsonl"}]}},
            "dedup": dedup, "tokenizer": {"vocab_size": 600, "sample_docs": 50}}
    path = root / "build.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
