"""The corpus the trainer reads: a checked manifest and its components' shards.

``open_corpus`` loads ``manifest.json`` with ``shards.load_manifest(verify=True)``, which
recomputes the sha256 of the tokenizer and of every shard, and checks that the tokenizer's
special tokens have the ids codemix defines (``tokenizer.special_tokens``). Any problem is a
``ManifestError`` with one line for the user: a missing manifest, a shard or tokenizer that
changed after the build, a vocabulary trained without the codemix special tokens.
"""

from __future__ import annotations

import dataclasses
import functools

from shards import Manifest, ManifestError, Shard, load_manifest
from shards.manifest import resolve
from tokenizer.special_tokens import ENDOFTEXT, SPECIAL_TOKENS
from training.data.packing import PackedComponent
from training.data.sampler import ComponentSpec, MixturePlan, plan_mixture


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A verified manifest and access to its components.

    Attributes:
        url: the manifest's location.
        manifest: the parsed manifest.
    """

    url: str
    manifest: Manifest

    @functools.cached_property
    def sha256(self) -> str:
        """Hash of the manifest's canonical JSON; checkpoints record it."""
        return self.manifest.sha256()

    @property
    def vocab_size(self) -> int:
        """Number of token ids, special tokens included (the model's embedding rows)."""
        return self.manifest.tokenizer.vocab_size

    @property
    def names(self) -> tuple[str, ...]:
        """Component names, in manifest order."""
        return tuple(c.name for c in self.manifest.components)

    def shards(self, name: str) -> list[Shard]:
        """Open (memory-map) the shards of component ``name``, in manifest order."""
        comp = self.manifest.component(name)
        return [Shard(resolve(self.url, s.path)) for s in comp.shards]

    def packed(self, seq_len: int) -> dict[str, PackedComponent]:
        """Every component as packed sequences of ``seq_len + 1`` tokens, by name."""
        return {name: PackedComponent(self.shards(name), seq_len) for name in self.names}

    def mixture(self, packed: dict[str, PackedComponent]) -> MixturePlan:
        """The mixture plan of the manifest's weights/epochs over ``packed`` sequences."""
        return plan_mixture([
            ComponentSpec(name=c.name, sequences=len(packed[c.name]), weight=c.weight,
                          epochs=c.epochs)
            for c in self.manifest.components])


def check_special_tokens(manifest: Manifest, url: str) -> None:
    """Refuse a tokenizer whose special tokens do not have the codemix ids."""
    special = manifest.tokenizer.special_tokens
    if ENDOFTEXT not in special:
        raise ManifestError(f"{url}: tokenizer has no {ENDOFTEXT} token")
    for token, token_id in sorted(special.items(), key=lambda kv: kv[1]):
        if token in SPECIAL_TOKENS and token_id != SPECIAL_TOKENS.index(token):
            raise ManifestError(
                f"{url}: tokenizer gives {token} id {token_id}, codemix expects "
                f"{SPECIAL_TOKENS.index(token)} (train it with tokenizer.special_tokens)")
    if manifest.tokenizer.vocab_size <= max(special.values()):
        raise ManifestError(f"{url}: tokenizer vocab_size {manifest.tokenizer.vocab_size} "
                            f"does not cover its special token ids")


def open_corpus(url: str, *, verify: bool = True) -> Corpus:
    """Load and check a manifest.

    Args:
        url: manifest.json location (path or fsspec URL).
        verify: recompute every file's sha256 (one pass over the corpus); turn it off only
            where another process has just verified the same files.

    Returns:
        The ``Corpus``.

    Raises:
        ManifestError: one line, e.g. ``no manifest at out/demo/manifest.json``.
    """
    manifest = load_manifest(url, verify=verify)
    check_special_tokens(manifest, url)
    return Corpus(url=url, manifest=manifest)
