"""manifest.json: the commit point of a build, and what the trainer trusts.

A build writes every shard first and the manifest last; a shard that no manifest names is
not part of any corpus. The manifest records the tokenizer (by sha256, so a trainer cannot
pair shards with the wrong vocabulary, and with the id of each special token, which a given
tokenizer has where it has them), the build config and its hash, and per mixture
component its weight/epochs, counts and shards (path relative to the manifest, sha256, docs,
tokens). Serialisation is canonical (sorted keys, fixed indentation), so two builds of the
same input and config give byte-identical manifests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
from typing import Any

import fsspec

from shards.format import file_sha256, write_bytes_atomic

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"


class ManifestError(ValueError):
    """The manifest is missing, malformed, or does not match the files it names.

    Its message is one line meant for the user, e.g. ``shard code-python/00000.shard:
    sha256 mismatch (file changed after the build)``.
    """


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardEntry:
    """One shard as the manifest names it.

    Attributes:
        path: location relative to the manifest's folder (POSIX separators).
        sha256: hex digest of the file's bytes.
        docs: documents in the shard.
        tokens: tokens in the shard.
    """

    path: str
    sha256: str
    docs: int
    tokens: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComponentEntry:
    """One mixture component: the unit of mixing, sharding and reporting.

    Attributes:
        name: component name from the mixture spec, e.g. ``code-python``.
        kind: ``code``, ``text`` or ``pair``.
        weight: share of each mixture epoch's samples, or None when ``epochs`` is given.
        epochs: passes over this component per mixture epoch, or None when ``weight`` is.
        docs: documents over all shards.
        tokens: tokens over all shards.
        shards: the shards, in a fixed order.
    """

    name: str
    kind: str
    weight: float | None
    epochs: float | None
    docs: int
    tokens: int
    shards: tuple[ShardEntry, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenizerEntry:
    """The tokenizer the shards were encoded with.

    Attributes:
        path: tokenizer.json location relative to the manifest's folder.
        sha256: hex digest of tokenizer.json.
        vocab_size: number of ids, special tokens included (one more than the largest id).
        special_tokens: codemix special token -> id, for every one the tokenizer has
            (``tokenizer.special_tokens.SpecialIds`` reads it). A given tokenizer's own token
            may stand for one (``tokenizer.special_tokens`` in the build config, e.g.
            ``</s>`` for ``<|endoftext|>``): the id is then that token's.
        given_sha256: hex digest of the tokenizer.json the build config gave (before any
            special tokens were added to it); None when the build trained the tokenizer.
    """

    path: str
    sha256: str
    vocab_size: int
    special_tokens: dict[str, int]
    given_sha256: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Manifest:
    """A finished build.

    Attributes:
        format_version: manifest schema version (``MANIFEST_VERSION``).
        token_dtype: numpy dtype name of every shard's tokens (``uint16`` or ``uint32``).
        tokenizer: see ``TokenizerEntry``.
        config: the build config as loaded (plain JSON values).
        config_hash: sha256 of the canonical JSON of ``config``.
        components: one entry per component, sorted by name.
    """

    format_version: int
    token_dtype: str
    tokenizer: TokenizerEntry
    config: dict[str, Any]
    config_hash: str
    components: tuple[ComponentEntry, ...]

    def to_json(self) -> str:
        """Canonical JSON text: the same manifest always gives the same bytes."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, indent=2) + "\n"

    def sha256(self) -> str:
        """Hash of the canonical JSON; the trainer stores it in its checkpoints."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def component(self, name: str) -> ComponentEntry:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise ManifestError(f"component {name!r} is not in the manifest "
                            f"(have: {', '.join(c.name for c in self.components)})")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        try:
            if data["format_version"] != MANIFEST_VERSION:
                raise ManifestError(f"manifest format version {data['format_version']} is "
                                    f"not supported (expected {MANIFEST_VERSION})")
            comps = tuple(
                ComponentEntry(**{**c, "shards": tuple(ShardEntry(**s) for s in c["shards"])})
                for c in data["components"])
            return cls(format_version=data["format_version"],
                       token_dtype=data["token_dtype"],
                       tokenizer=TokenizerEntry(**data["tokenizer"]),
                       config=data["config"], config_hash=data["config_hash"],
                       components=comps)
        except (KeyError, TypeError) as err:
            raise ManifestError(f"malformed manifest: {err}") from None


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of a config's canonical JSON, so equal configs hash equal."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


POINTER_NAME = "LATEST"
"""On an object store, the file in a build's output folder naming the generation folder
that holds the published corpus (``pipelines.staging``)."""
GENERATION_PREFIX = "gen-"


def locate(path: str) -> str:
    """The manifest (or shard) URL that ``path`` names: the file itself; else the
    ``manifest.json`` of the folder ``path`` (or ``path`` without its ``manifest.json``),
    directly or in the generation folder its ``LATEST`` names. A missing manifest gives
    the URL where it was looked for (``load_manifest`` then says so)."""
    fs, local = fsspec.core.url_to_fs(path)
    if fs.isfile(local):
        return path
    folder = path.rstrip("/")
    if posixpath.basename(folder) == MANIFEST_NAME:
        folder = posixpath.dirname(folder)
    elif not fs.isdir(local):
        return path  # neither file nor folder: ``load_manifest`` names it as given
    local = fsspec.core.url_to_fs(folder)[1].rstrip("/")
    pointer = f"{local}/{POINTER_NAME}"
    if not fs.isfile(f"{local}/{MANIFEST_NAME}") and fs.isfile(pointer):
        generation = fs.cat_file(pointer).decode().strip()
        return f"{folder}/{generation}/{MANIFEST_NAME}"
    return f"{folder}/{MANIFEST_NAME}"


def resolve(manifest_url: str, relative: str) -> str:
    """URL of a file named in the manifest, relative to the manifest's folder."""
    return posixpath.join(posixpath.dirname(manifest_url), relative)


SHARD_SUFFIXES = (".shard", ".shard.zst")
"""How a shard file's name ends (``pipelines.sharding.shard_name``)."""


def unnamed_shards(fs: fsspec.AbstractFileSystem, root: str, named: set[str]) -> list[str]:
    """Shard files under the folder ``root`` (a path on ``fs``) that ``named`` (paths
    relative to ``root``) leaves out, relative and sorted: left by another build, no
    corpus's part. Hidden folders (a build's staging area) are not searched."""
    found = []
    for path in fs.find(root):
        rel = posixpath.relpath(path, root)
        if (rel.endswith(SHARD_SUFFIXES) and rel not in named
                and not any(part.startswith(".") for part in rel.split("/"))):
            found.append(rel)
    return sorted(found)


def write_manifest(manifest: Manifest, url: str) -> None:
    """Write the manifest atomically; do this only after every shard it names is written."""
    write_bytes_atomic(url, manifest.to_json().encode("utf-8"))


def load_manifest(url: str, verify: bool = True) -> Manifest:
    """Read a manifest and, by default, check every file it names.

    Args:
        url: manifest.json location (any fsspec URL).
        verify: recompute the sha256 of the tokenizer and every shard and compare them with
            the manifest; a mismatch raises ``ManifestError``. Reading every shard costs one
            pass over the corpus; turn it off only for inspection.

    Returns:
        The parsed manifest.
    """
    try:
        with fsspec.open(url, "rt", encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ManifestError(f"no manifest at {url}") from None
    except json.JSONDecodeError as err:
        raise ManifestError(f"{url} is not valid JSON: {err}") from None
    manifest = Manifest.from_dict(data)
    if manifest.config_hash != config_hash(manifest.config):
        raise ManifestError(f"{url}: config_hash does not match the config it records")
    if verify:
        verify_files(manifest, url)
    return manifest


def verify_files(manifest: Manifest, url: str) -> None:
    """Check the sha256 of the tokenizer and every shard against the manifest."""
    named = [("tokenizer", manifest.tokenizer.path, manifest.tokenizer.sha256)]
    named += [("shard", s.path, s.sha256) for c in manifest.components for s in c.shards]
    for what, rel, expected in named:
        try:
            actual = file_sha256(resolve(url, rel))
        except FileNotFoundError:
            raise ManifestError(f"{what} {rel} named by {url} is missing") from None
        if actual != expected:
            raise ManifestError(f"{what} {rel}: sha256 mismatch with {url} "
                                f"(file changed after the build)")
