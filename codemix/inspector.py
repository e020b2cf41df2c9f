"""``codemix shards inspect``: a manifest's summary, and any document decoded back to text."""

from __future__ import annotations

import json

from shards.format import Shard
from shards.manifest import Manifest, ManifestError, load_manifest, locate, resolve


def summary(manifest: Manifest, url: str) -> str:
    """A table of the manifest's components, with its tokenizer and config hash."""
    tok = manifest.tokenizer
    lines = [f"manifest  {url} (format {manifest.format_version}, tokens {manifest.token_dtype})",
             f"tokenizer {tok.path} vocab {tok.vocab_size} sha256 {tok.sha256[:16]}",
             f"config    sha256 {manifest.config_hash[:16]}",
             f"{'component':<20} {'kind':<5} {'weight':>7} {'epochs':>7} {'docs':>9} "
             f"{'tokens':>12} {'shards':>6}"]
    for c in manifest.components:
        weight = "-" if c.weight is None else f"{c.weight:g}"
        epochs = "-" if c.epochs is None else f"{c.epochs:g}"
        lines.append(f"{c.name:<20} {c.kind:<5} {weight:>7} {epochs:>7} {c.docs:>9} "
                     f"{c.tokens:>12} {len(c.shards):>6}")
    lines.append(f"{'total':<20} {'':<5} {'':>7} {'':>7} "
                 f"{sum(c.docs for c in manifest.components):>9} "
                 f"{sum(c.tokens for c in manifest.components):>12} "
                 f"{sum(len(c.shards) for c in manifest.components):>6}")
    return "\n".join(lines)


def find_doc(manifest: Manifest, url: str, spec: str) -> tuple[str, int]:
    """Shard URL and local index of ``COMPONENT:INDEX`` (index across the component)."""
    name, _, index_text = spec.rpartition(":")
    if not name or not index_text.isdigit():
        raise ManifestError(f"--doc wants COMPONENT:INDEX, got {spec!r}")
    comp, index = manifest.component(name), int(index_text)
    for entry in comp.shards:
        if index < entry.docs:
            return resolve(url, entry.path), index
        index -= entry.docs
    raise ManifestError(f"component {name!r} has {comp.docs} documents; {index_text} is out "
                        f"of range")


def inspect_path(path: str, doc: str | None = None, verify: bool = False) -> int:
    """Print a manifest's (or one shard's) summary, and a decoded document if asked."""
    if path.endswith((".shard", ".shard.zst")):
        with Shard(path) as shard:
            print(f"shard {path}: {len(shard)} docs, {shard.num_tokens} tokens "
                  f"({shard.dtype.name})")
            for i in range(min(len(shard), 5)):
                print(f"  [{i}] {shard.offsets[i + 1] - shard.offsets[i]} tokens "
                      f"{json.dumps(shard.meta(i), sort_keys=True)}")
        return 0
    url = locate(path)
    manifest = load_manifest(url, verify=verify)
    print(summary(manifest, url))
    if verify:
        print("verified: tokenizer and every shard match their sha256")
    if doc:
        from tokenizer.encode import decode
        from tokenizer.load import load_tokenizer

        shard_url, index = find_doc(manifest, url, doc)
        with Shard(shard_url) as shard:
            tokens, meta = shard.tokens(index), shard.meta(index)
        tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
        print(f"\n--- {doc}: {len(tokens)} tokens {json.dumps(meta, sort_keys=True)}")
        print(decode(tok, tokens.tolist()))
    return 0
