"""The mixture spec: one YAML file, loaded into keyword-only dataclasses.

The file names the mixture components (inputs, kind, weight or epochs) and the build
settings (filters, dedup, tokenizer, shards). ``load_config`` is the one loader: it rejects
unknown keys by name, checks values when the pipeline is built (not an hour later on a
worker), and expands the placeholders ``{stdlib}``, ``{site_packages}`` and ``{include}`` in
input URLs to the running Python's directories, which is how the embedded demo corpus is named. The
loaded config's canonical JSON is hashed into the manifest.
"""

from __future__ import annotations

import dataclasses
import os
import sysconfig
import types
import typing
from typing import Any

import fsspec
import yaml

from pipelines.records import KINDS

FORMATS = ("folder", "jsonl", "package-metadata")
"""Input formats: a folder of files (code), JSONL(.gz/.zst) documents, and the descriptions in
installed packages' ``*.dist-info/METADATA`` (prose)."""


class ConfigError(ValueError):
    """A user error in the config: its message is one line naming the file and the key."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class InputSpec:
    """One input of a component."""

    url: str
    """fsspec URL of a folder (``folder``, ``package-metadata``) or of a file or glob
    (``jsonl``). ``{stdlib}``, ``{site_packages}`` and ``{include}`` expand to the running
    Python's."""
    format: str
    """One of ``FORMATS``."""
    include: tuple[str, ...] = ("**",)
    """Glob patterns, relative to ``url``, of the files to read (``folder`` only)."""
    exclude: tuple[str, ...] = ()
    """Glob patterns of files to skip even when included (``folder`` only)."""
    max_files: int | None = None
    """Read at most this many files, chosen by a hash of their relative path, so the choice
    is the same on every run and spread over the whole tree. None reads all."""
    text_field: str = "text"
    """Field holding the document text (``jsonl`` only)."""
    name: str = ""
    """Repository/collection name recorded on every document; defaults to the URL's last
    path element."""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.max_files is not None and self.max_files <= 0:
            raise ValueError(f"max_files must be positive, got {self.max_files}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComponentSpec:
    """A mixture component: the unit of mixing, sharding and reporting."""

    name: str
    """Component name, e.g. ``code-python``; the shard folder is named after it."""
    kind: str
    """``code``, ``text`` or ``pair`` (function/docstring pairs parsed out of code)."""
    inputs: tuple[InputSpec, ...] = ()
    """Where the documents come from; empty for a ``pair`` component."""
    pairs_from: tuple[str, ...] = ()
    """For a ``pair`` component: the code components whose functions are paired."""
    weight: float | None = None
    """Share of each mixture epoch's samples (exclusive with ``epochs``)."""
    epochs: float | None = None
    """Passes over this component per mixture epoch (exclusive with ``weight``)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if (self.weight is None) == (self.epochs is None):
            raise ValueError("give exactly one of weight and epochs")
        for value, what in ((self.weight, "weight"), (self.epochs, "epochs")):
            if value is not None and value <= 0:
                raise ValueError(f"{what} must be positive, got {value}")
        if self.kind == "pair":
            if self.inputs or not self.pairs_from:
                raise ValueError("a pair component takes pairs_from, not inputs")
        elif not self.inputs:
            raise ValueError("needs at least one input")
        elif self.pairs_from:
            raise ValueError("pairs_from is only for a pair component")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FilterSpec:
    """Cleaning and quality thresholds; a document failing one is dropped with its name."""

    min_chars: int = 64
    """Documents shorter than this are dropped as ``too_short``."""
    max_chars: int = 500_000
    """Documents longer than this are dropped as ``too_long``."""
    max_line_chars: int = 1000
    """Code whose longest line exceeds this (minified, data blobs) is ``long_lines``."""
    min_alpha_fraction: float = 0.25
    """Code with fewer alphabetic characters than this share is ``low_alpha`` (data)."""
    min_words: int = 20
    """Prose with fewer words than this is ``too_few_words``."""
    max_error_ratio: float = 0.02
    """Code whose share of bytes under tree-sitter ERROR nodes exceeds this is
    ``syntax_error``; languages without a grammar are not checked."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class DedupSpec:
    """Exact and MinHash-LSH near deduplication across all components."""

    exact: bool = True
    """Drop byte-identical copies (``exact_duplicate``)."""
    near: bool = True
    """Drop near copies (``near_duplicate``) by MinHash-LSH over word shingles."""
    ngram: int = 5
    """Words per shingle."""
    num_perm: int = 256
    """MinHash permutations; bands and rows are chosen from it and ``threshold``."""
    threshold: float = 0.7
    """Jaccard similarity above which two documents are near duplicates."""
    seed: int = 1
    """MinHash permutation seed."""

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.ngram < 1 or self.num_perm < 2:
            raise ValueError("ngram must be >= 1 and num_perm >= 2")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenizerSpec:
    """Either a given tokenizer.json, or BPE trained on a sample of the cleaned corpus."""

    path: str | None = None
    """An existing tokenizer.json (fsspec URL); when set, nothing is trained."""
    vocab_size: int = 32768
    """Vocabulary size of the trained tokenizer, special tokens included."""
    sample_docs: int = 5000
    """Documents the tokenizer is trained on, picked by a hash of their id (deterministic)."""
    sample_chars: int = 20_000
    """Each sampled document contributes at most this many characters."""
    min_frequency: int = 2
    """Pairs seen fewer times than this are never merged."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardSpec:
    """How the tokenized documents are written."""

    target_tokens: int = 50_000_000
    """Tokens per shard, roughly: a component gets ceil(tokens / target) shards."""
    compress: bool = False
    """Store shards zstd-compressed (``.shard.zst``): smaller, but read without memory map."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """A whole build: the mixture and how to make it."""

    output: str
    """Folder (fsspec URL) for shards, tokenizer.json, stats.json and manifest.json."""
    components: tuple[ComponentSpec, ...]
    """The mixture components, in file order."""
    filters: FilterSpec = FilterSpec()
    dedup: DedupSpec = DedupSpec()
    tokenizer: TokenizerSpec = TokenizerSpec()
    shards: ShardSpec = ShardSpec()

    def __post_init__(self) -> None:
        names = [c.name for c in self.components]
        if not names:
            raise ValueError("components: at least one component is needed")
        if len(set(names)) != len(names):
            raise ValueError(f"components: duplicate name in {names}")
        # The trainer's mixture rule (training/data/sampler.py): next to components given by
        # epochs, weights are shares of the whole mixture epoch, so they must leave room.
        weights = [c.weight for c in self.components if c.weight is not None]
        if len(weights) < len(self.components) and sum(weights) >= 1.0:
            raise ValueError("components: next to components given by epochs, the weights "
                             f"must sum to < 1 (they sum to {sum(weights):g})")
        code = {c.name for c in self.components if c.kind == "code"}
        for comp in self.components:
            unknown = [n for n in comp.pairs_from if n not in code]
            if unknown:
                raise ValueError(f"components.{comp.name}.pairs_from: unknown code "
                                 f"component {unknown[0]!r}")

    def component(self, name: str) -> ComponentSpec:
        return next(c for c in self.components if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, for the manifest and its hash."""
        return _to_plain(self)


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_to_plain(v) for v in value]
    return value


PLACEHOLDERS = {"{stdlib}": "stdlib", "{site_packages}": "purelib", "{include}": "include"}
"""URL placeholders -> ``sysconfig`` path names of the running Python."""


def expand_url(url: str) -> str:
    """Expand ``{stdlib}``, ``{site_packages}`` and ``{include}`` (the C headers) to the
    running Python's directories."""
    paths = sysconfig.get_paths()
    for placeholder, key in PLACEHOLDERS.items():
        url = url.replace(placeholder, paths[key])
    return url


def _build(cls: type, data: Any, where: str, **given: Any) -> Any:
    """Construct dataclass ``cls`` from YAML data, naming any bad key by its dotted path.

    ``given`` holds fields the caller has already converted; they are not looked up in
    ``data``.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = dict(given)
    for key, value in data.items():
        if key in given:
            continue
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise ConfigError(f"unknown key {path!r}")
        kwargs[key] = _convert(hints[key], value, path)
    try:
        return cls(**kwargs)
    except TypeError as err:  # a required field is missing
        missing = [n for n, f in fields.items() if n not in kwargs
                   and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        raise ConfigError(f"{where or 'config'}: missing key {missing[0]!r}" if missing
                          else f"{where or 'config'}: {err}") from None
    except ValueError as err:
        raise ConfigError(f"{where}: {err}" if where else str(err)) from None


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if origin is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ConfigError(f"{path}: expected a list")
        return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(items))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (
            not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
        raise ConfigError(f"{path}: expected {hint.__name__}, got {value!r}")
    return value


def _check_paths(config: BuildConfig) -> None:
    """Fail at load time, with the path, when a local input does not exist."""
    for comp in config.components:
        for spec in comp.inputs:
            fs, path = fsspec.core.url_to_fs(spec.url)
            if not isinstance(fs, fsspec.implementations.local.LocalFileSystem):
                continue  # remote inputs are listed by the pipeline itself
            probe = path.split("*", 1)[0] if "*" in path else path
            if not os.path.exists(probe):
                raise ConfigError(f"components.{comp.name}.inputs: no such path {spec.url}")


def parse_config(data: Any, check_paths: bool = True) -> BuildConfig:
    """Build a ``BuildConfig`` from already-parsed YAML (a dict).

    Components are given as a mapping ``name -> spec`` so that names are unique by
    construction and read naturally in YAML.
    """
    if not isinstance(data, dict):
        raise ConfigError("config: expected a mapping at the top level")
    comps = data.get("components")
    if not isinstance(comps, dict):
        raise ConfigError("components: expected a mapping of component name to spec")
    components = []
    for name, spec in comps.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"components.{name}: expected a mapping")
        if "name" in spec:
            raise ConfigError(f"unknown key 'components.{name}.name'")
        spec = dict(spec)
        for i, inp in enumerate(spec.get("inputs") or ()):
            if isinstance(inp, dict) and isinstance(inp.get("url"), str):
                spec["inputs"][i] = {**inp, "url": expand_url(inp["url"])}
        components.append(_build(ComponentSpec, {"name": str(name), **spec},
                                 f"components.{name}"))
    config = _build(BuildConfig, data, "", components=tuple(components))
    if check_paths:
        _check_paths(config)
    return config


def load_config(url: str, check_paths: bool = True) -> BuildConfig:
    """Read and validate a mixture spec.

    Args:
        url: path or fsspec URL of the YAML file.
        check_paths: fail now when a local input path does not exist.

    Returns:
        The validated ``BuildConfig``.

    Raises:
        ConfigError: one line naming the file and the bad key or value.
    """
    try:
        with fsspec.open(url, "rt", encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"no config at {url}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{url}:{where} invalid YAML ({getattr(err, 'problem', err)})") from None
    try:
        return parse_config(data, check_paths=check_paths)
    except ConfigError as err:
        raise ConfigError(f"{url}: {err}") from None
