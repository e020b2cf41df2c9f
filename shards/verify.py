"""Checking a built corpus end to end: every fault found, each named, none fixed.

``verify_corpus`` reads the manifest and every file it names and reports, without stopping
at the first, every way the corpus disagrees with itself: a missing or changed file (sha256),
a shard that does not open, a shard whose document or token counts differ from the
manifest's, document boundaries that are not monotone or do not end at the token count, a
token id at or above the vocabulary size, a component whose totals are not the sum of its
shards, a token dtype other than the manifest's, or a shard file beside the manifest that it
does not name (left by another build: a reader of the folder could take it for part of the
corpus). ``codemix shards verify`` prints them and exits non-zero when there is any.
"""

from __future__ import annotations

import posixpath

import fsspec
import numpy as np

from shards.format import Shard, ShardError, file_sha256
from shards.manifest import Manifest, ManifestError, load_manifest, resolve, unnamed_shards
from shards.ranges import range_fault

_TOKEN_CHUNK = 1 << 24
"""Tokens checked at a time against the vocabulary size (bounded memory)."""


def _check_shard(url: str, rel: str, entry_docs: int, entry_tokens: int, vocab_size: int,
                 dtype: str) -> list[str]:
    faults = []
    try:
        with Shard(url) as shard:
            if (len(shard), shard.num_tokens) != (entry_docs, entry_tokens):
                faults.append(f"shard {rel}: {len(shard)} docs / {shard.num_tokens} tokens, "
                              f"the manifest says {entry_docs} / {entry_tokens}")
            if shard.dtype.name != dtype:
                faults.append(f"shard {rel}: tokens are {shard.dtype.name}, the manifest says "
                              f"{dtype}")
            offsets = shard.offsets
            if offsets[0] != 0 or offsets[-1] != shard.num_tokens or np.any(np.diff(offsets) < 0):
                faults.append(f"shard {rel}: document boundaries are not monotone from 0 to "
                              f"{shard.num_tokens}")
            for doc in range(len(shard)):
                fault = range_fault(shard.meta(doc), int(offsets[doc + 1] - offsets[doc]))
                if fault:
                    faults.append(f"shard {rel}: document {doc}: {fault}")
                    break
            tokens = shard.all_tokens()
            for start in range(0, len(tokens), _TOKEN_CHUNK):
                top = int(tokens[start:start + _TOKEN_CHUNK].max(initial=0))
                if top >= vocab_size:
                    faults.append(f"shard {rel}: token id {top} >= vocabulary size {vocab_size}")
                    break
    except (ShardError, OSError, ValueError) as err:
        faults.append(f"shard {rel}: unreadable ({err})")
    return faults


def verify_corpus(url: str) -> tuple[Manifest, list[str]]:
    """Every fault of the corpus whose manifest is at ``url``.

    Returns:
        The manifest and the faults, one line each (empty: the corpus is sound).

    Raises:
        ManifestError: the manifest itself cannot be read.
    """
    manifest = load_manifest(url, verify=False)
    faults: list[str] = []
    named = [("tokenizer", manifest.tokenizer.path, manifest.tokenizer.sha256)]
    named += [("shard", s.path, s.sha256) for c in manifest.components for s in c.shards]
    for what, rel, expected in named:
        try:
            if file_sha256(resolve(url, rel)) != expected:
                faults.append(f"{what} {rel}: sha256 differs from the manifest's")
        except FileNotFoundError:
            faults.append(f"{what} {rel}: missing")
    fs, path = fsspec.core.url_to_fs(url)
    for rel in unnamed_shards(fs, posixpath.dirname(path), {rel for _, rel, _ in named}):
        faults.append(f"shard {rel}: not named by the manifest (left by another build)")
    for comp in manifest.components:
        if (comp.docs, comp.tokens) != (sum(s.docs for s in comp.shards),
                                        sum(s.tokens for s in comp.shards)):
            faults.append(f"component {comp.name}: totals are not the sum of its shards")
        for entry in comp.shards:
            faults += _check_shard(resolve(url, entry.path), entry.path, entry.docs,
                                   entry.tokens, manifest.tokenizer.vocab_size,
                                   manifest.token_dtype)
    return manifest, faults


__all__ = ["ManifestError", "verify_corpus"]
