"""``codemix shards verify`` and ``codemix shards export``: check a built corpus, and hand
it to another trainer."""

from __future__ import annotations

import os

from codemix.inspector import manifest_url
from shards.manifest import Manifest, ManifestError
from shards.documents import TEXT_FORMATS, export_documents
from shards.megatron import export_component
from shards.verify import verify_corpus

EXPORT_FORMATS = ("megatron", *TEXT_FORMATS)
BLEND_NAME = "blend.txt"


def verify_path(path: str) -> int:
    """Print every fault of the corpus at ``path``; 0 when there is none, 1 otherwise."""
    url = manifest_url(path)
    manifest, faults = verify_corpus(url)
    for fault in faults:
        print(f"FAULT {fault}")
    shards = sum(len(c.shards) for c in manifest.components)
    if faults:
        print(f"{url}: {len(faults)} fault(s)")
        return 1
    print(f"{url}: sound ({len(manifest.components)} components, {shards} shards: hashes, "
          f"counts, boundaries and token ids below {manifest.tokenizer.vocab_size} checked)")
    return 0


def megatron_blend(manifest: Manifest, out: str) -> str:
    """Megatron-LM's ``--data-path`` blend for the exported files: each component's share
    of a mixture epoch (``training.data.sampler.token_plan``: its weight, or its epochs
    turned into a share) and its prefix, ``"W1 PREFIX1 W2 PREFIX2 ..."``; components with
    no share are left out."""
    from training.data.sampler import MixtureError, token_plan

    try:
        plan = token_plan(manifest.components)
    except MixtureError as err:
        raise ManifestError(f"no blend for this manifest's mixture: {err}") from None
    return " ".join(f"{count / plan.epoch_size:.6g} {os.path.join(out, name)}"
                    for name, count in zip(plan.names, plan.counts) if count)


def export_path(path: str, fmt: str, out: str, append_eod: bool = True) -> int:
    """Export every component of the corpus at ``path`` to ``out``: ``<component>.{bin,idx}``
    and ``blend.txt`` for Megatron (each document ending with ``<|endoftext|>`` unless
    ``append_eod`` is False), or ``<component>/<NNNNN>.{parquet,jsonl}`` of text."""
    if fmt not in EXPORT_FORMATS:
        raise ManifestError(f"unknown export format {fmt!r} (have: {', '.join(EXPORT_FORMATS)})")
    url = manifest_url(path)
    manifest, faults = verify_corpus(url)
    if faults:
        raise ManifestError(f"{url} has {len(faults)} fault(s); run codemix shards verify")
    if fmt in TEXT_FORMATS:
        for name, dest, docs in export_documents(manifest, url, fmt, out):
            print(f"{name}: {docs} documents -> {dest}")
        return 0
    for comp in manifest.components:
        prefix = os.path.join(out, comp.name)
        docs = export_component(manifest, url, comp.name, prefix, append_eod)
        print(f"{comp.name}: {docs} documents -> {prefix}.bin / {prefix}.idx")
    blend = megatron_blend(manifest, out)
    with open(os.path.join(out, BLEND_NAME), "w", encoding="utf-8") as f:
        f.write(blend + "\n")
    print(f"blend ({os.path.join(out, BLEND_NAME)}): --data-path {blend}")
    return 0
