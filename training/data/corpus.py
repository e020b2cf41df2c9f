"""The corpus the trainer reads: a checked manifest and its components' shards.

``open_corpus`` loads ``manifest.json`` with ``shards.load_manifest(verify=True)``, which
recomputes the sha256 of the tokenizer and of every shard, and checks the special token ids
the manifest records: ``<|endoftext|>`` must be there, every id inside the vocabulary, no
two tokens on one id. Those ids, wherever the tokenizer has them (a given tokenizer keeps its
own), are ``Corpus.specials``: what packing ends documents with and what the objectives,
document masking and generation insert and look for. ``specials_for`` also refuses a corpus
whose tokenizer lacks a token the run's objectives need. Any problem is a ``ManifestError``
with one line for the user: a missing manifest, a shard or tokenizer that changed after the
build, a vocabulary without ``<|endoftext|>``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable

from shards import Manifest, ManifestError, Shard, load_manifest
from shards.manifest import locate, resolve
from tokenizer.special_tokens import ENDOFTEXT, SpecialIds, listing
from training.data.packing import PackedComponent
from training.objectives import missing_tokens
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

    @functools.cached_property
    def specials(self) -> SpecialIds:
        """The ids of the tokenizer's special tokens, as the manifest records them."""
        return SpecialIds.from_mapping(self.manifest.tokenizer.special_tokens)

    def specials_for(self, objectives: Iterable[str]) -> SpecialIds:
        """``specials``, once checked to have every token the named objectives need.

        Args:
            objectives: names of ``training.objectives.OBJECTIVES`` the run trains with.

        Raises:
            ManifestError: naming the tokens the tokenizer lacks, in one line.
        """
        objectives = list(objectives)
        missing = missing_tokens(objectives, self.specials)
        if missing:
            raise ManifestError(
                f"{self.url}: the tokenizer lacks the special tokens {listing(missing)}, "
                f"which training with {' and '.join(objectives)} needs (build the corpus "
                f"with tokenizer.add_missing_special_tokens: true)")
        return self.specials

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
        return {name: PackedComponent(self.shards(name), seq_len, self.specials.eot)
                for name in self.names}

    def mixture(self, packed: dict[str, PackedComponent]) -> MixturePlan:
        """The mixture plan of the manifest's weights/epochs over ``packed`` sequences."""
        return plan_mixture([
            ComponentSpec(name=c.name, sequences=len(packed[c.name]), weight=c.weight,
                          epochs=c.epochs)
            for c in self.manifest.components])


def check_special_tokens(manifest: Manifest, url: str) -> None:
    """Refuse special token ids no corpus can have: no ``<|endoftext|>`` (nothing would end
    a document), an id outside the vocabulary, or two tokens on one id."""
    special = manifest.tokenizer.special_tokens
    if ENDOFTEXT not in special:
        raise ManifestError(f"{url}: tokenizer has no {ENDOFTEXT} token")
    by_id: dict[int, str] = {}
    for token, token_id in special.items():
        if not 0 <= token_id < manifest.tokenizer.vocab_size:
            raise ManifestError(f"{url}: special token {token} has id {token_id}, outside the "
                                f"vocabulary of {manifest.tokenizer.vocab_size}")
        if token_id in by_id:
            raise ManifestError(f"{url}: special tokens {by_id[token_id]} and {token} share "
                                f"id {token_id}")
        by_id[token_id] = token


def open_corpus(url: str, *, verify: bool = True) -> Corpus:
    """Load and check a manifest.

    Args:
        url: manifest.json location (path or fsspec URL), or the build's output folder;
            on an object store the manifest is found through the folder's pointer file
            (``shards.manifest.locate``).
        verify: recompute every file's sha256 (one pass over the corpus); turn it off only
            where another process has just verified the same files.

    Returns:
        The ``Corpus``.

    Raises:
        ManifestError: one line, e.g. ``no manifest at out/demo/manifest.json``.
    """
    url = locate(url)
    manifest = load_manifest(url, verify=verify)
    check_special_tokens(manifest, url)
    return Corpus(url=url, manifest=manifest)
