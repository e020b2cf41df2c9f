"""The build's tokenizer as Beam transforms: sample, train or adopt, then encode.

``BuildTokenizer`` trains byte-level BPE on a mixture-following sample of the records
(``tokenizer.sample``) or adopts a given tokenizer.json, and stores it beside the shards;
``TokenizeRecords`` encodes every record with it (tiktoken's fast path when it is checked
token-identical, else ``tokenizers``), counting which path took each document.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from pipelines.accounting import Drop
from pipelines.config import BuildConfig, ConfigError, TokenizerSpec
from pipelines.progress import tick
from pipelines.records import Record
from pipelines.spans import assemble, cut, document_ranges
from pipelines.stage import DROPPED
from pipelines.timing import Timed, stage_timer
from shards.format import file_sha256, write_bytes_atomic
from tokenizer.encode import encode_batch, fallback_reason
from tokenizer.load import (TokenizerError, adopt, read_tokenizer_text, special_ids,
                            tokenizer_from_str, vocab_size)
from tokenizer.sample import ComponentMix, ComponentSize, ComponentTake, plan_sample
from tokenizer.special_tokens import ENDOFTEXT, SEP
from tokenizer.train import train_bpe

TOKENIZER_NAME = "tokenizer.json"


@dataclasses.dataclass(frozen=True)
class TokenizerArtifact:
    """The build's tokenizer, as passed to every worker (a side input).

    Attributes:
        json: tokenizer.json text, as stored beside the shards.
        sha256: its hash, recorded in the manifest.
        vocab_size: number of ids (one more than the largest).
        special_ids: codemix special token -> id, for the tokens it has.
        given_sha256: hash of the given tokenizer.json as read (before special tokens were
            added); None when the tokenizer was trained.
    """

    json: str
    sha256: str
    vocab_size: int
    special_ids: dict[str, int]
    given_sha256: str | None = None


def _artifact(text: str, spec: TokenizerSpec, output: str) -> TokenizerArtifact:
    """Store a tokenizer beside the shards and describe it."""
    tok = tokenizer_from_str(text)
    data = text.encode("utf-8")
    write_bytes_atomic(f"{output.rstrip('/')}/{TOKENIZER_NAME}", data)
    return TokenizerArtifact(text, hashlib.sha256(data).hexdigest(), vocab_size(tok),
                             special_ids(tok, spec.special_tokens),
                             file_sha256(spec.path) if spec.path else None)


def _required_special_tokens(config: BuildConfig) -> tuple[str, ...]:
    """Special tokens the build itself writes: ``<|endoftext|>``, which ends every
    document, and ``<sep>`` between a pair's docstring and code."""
    pairs = any(c.kind == "pair" for c in config.components)
    return (ENDOFTEXT, SEP) if pairs else (ENDOFTEXT,)


def _adopt_given(spec: TokenizerSpec, required: tuple[str, ...]) -> str:
    """The given tokenizer.json with its special tokens checked (and added when allowed)."""
    try:
        tok = tokenizer_from_str(read_tokenizer_text(spec.path))
        adopt(tok, names=spec.special_tokens, required=required,
              add_missing=spec.add_missing_special_tokens)
    except FileNotFoundError:
        raise ConfigError(f"tokenizer.path: no such file {spec.path}") from None
    except TokenizerError as err:
        raise ConfigError(f"tokenizer.path {spec.path}: {err}") from None
    return tok.to_str()


def _sample_key(record: Record) -> bytes:
    return hashlib.sha256(b"tokenizer-sample:" + record.id.encode()).digest()


def _take(record: Record, plan: dict[str, ComponentTake],
          cap: int) -> Iterator[tuple[bytes, str]]:
    """A record's copies in the tokenizer sample (``tokenizer.sample``), keyed for order."""
    key = _sample_key(record)
    for _ in range(plan[record.component].count(key)):
        yield key, record.text[:cap]


def _train(sample: list[tuple[bytes, str]], spec: TokenizerSpec) -> str:
    tick("tokenizer", len(sample), sum(len(text.encode("utf-8", "surrogatepass"))
                                       for _, text in sample))
    # Sorted by key, so training sees the same order every run (it does not depend on it).
    trained = train_bpe((text for _, text in sorted(sample)), spec.vocab_size,
                        spec.min_frequency, digits=spec.digits, space_runs=spec.space_runs,
                        tab_runs=spec.tab_runs).to_str()
    tick("trained")
    return trained


class SampleForTokenizer(beam.PTransform):
    """The tokenizer's training sample: a one-element PCollection of ``[(key, text), ...]``.

    Follows the mixture (``tokenizer.sample``): each component gets a share of
    ``sample_docs`` documents by its weight or epochs and its size, taken by the smallest
    hashes of their ids, whole copies first when the share needs repeats; each text is cut
    to ``sample_chars``. Only keys and sizes are gathered per component before the texts
    are taken, so memory is bounded by the sample.
    """

    def __init__(self, config: BuildConfig):
        super().__init__()
        self._spec = config.tokenizer
        self._mix = {c.name: ComponentMix(c.weight, c.epochs) for c in config.components}

    def expand(self, records):
        mix, docs, cap = self._mix, self._spec.sample_docs, self._spec.sample_chars
        keyed = records | "SampleKey" >> beam.Map(
            lambda r: (r.component, _sample_key(r), len(r.text)))
        sizes = (keyed
                 | "Size" >> beam.Map(lambda k: (k[0], (1, k[2], min(k[2], cap))))
                 | "SumSizes" >> beam.CombinePerKey(beam.combiners.TupleCombineFn(sum, sum, sum))
                 | "SizeOf" >> beam.MapTuple(lambda c, s: (c, ComponentSize(*s))))
        lowest = (keyed
                  | "Key" >> beam.Map(lambda k: (k[0], k[1]))
                  | "Lowest" >> beam.combiners.Top.SmallestPerKey(docs))
        plan = (records.pipeline
                | "Once" >> beam.Create([None])
                | "Plan" >> beam.Map(lambda _, s, low: plan_sample(s, mix, low, docs),
                                     beam.pvalue.AsDict(sizes), beam.pvalue.AsDict(lowest)))
        return (records
                | "Take" >> beam.FlatMap(_take, beam.pvalue.AsSingleton(plan), cap)
                | "Sample" >> beam.combiners.ToList())


class BuildTokenizer(beam.PTransform):
    """The tokenizer as a one-element PCollection of ``TokenizerArtifact``.

    Trains byte-level BPE on ``SampleForTokenizer``'s sample of the records, or adopts
    ``tokenizer.path`` (``tokenizer.load.adopt``); either way tokenizer.json is written to
    the build's folder. A given tokenizer is checked here, when the pipeline is built: a
    missing file or special token is a ``ConfigError``.
    """

    def __init__(self, config: BuildConfig, root: str):
        """``root``: the folder tokenizer.json is written to (the build's staging area)."""
        super().__init__()
        self._config, self._root = config, root
        self._required = _required_special_tokens(config)
        if config.tokenizer.path:
            _adopt_given(config.tokenizer, self._required)

    def expand(self, records):
        spec = self._config.tokenizer
        if spec.path:
            text = (records.pipeline
                    | "TokenizerPath" >> beam.Create([spec])
                    | "Adopt" >> beam.Map(_adopt_given, self._required))
        else:
            text = (records
                    | "SampleForTokenizer" >> SampleForTokenizer(self._config)
                    | "Train" >> beam.Map(Timed("tokenizer", _train), spec))
        return text | "Store" >> beam.Map(_artifact, spec, self._root)


@dataclasses.dataclass(frozen=True, slots=True)
class EncodedDoc:
    """A tokenized document on its way to a shard."""

    id: str
    tokens: np.ndarray
    meta: dict[str, Any]
    source: str = ""
    bytes: int = 0
    """UTF-8 size of the text it was encoded from (for bytes per token in the profile)."""


ENCODER = "encoder"
"""Tagged output of ``_EncodeDoFn``: ``(("encoder", "fast"), n)`` documents encoded by
tiktoken, or ``(("encoder", "fallback", reason), n)`` by ``tokenizers`` and why."""


class _EncodeDoFn(beam.DoFn):
    """Encode batches of records; the tokenizer is rebuilt only when its text changes.

    A rebuilt tokenizer's fast (tiktoken) encoder is converted and checked against
    ``tokenizers`` right away, once per worker. Every batch counts its documents under the
    path that encoded them, so a fallback (several times slower, never silent) reaches
    stats.json and the build summary, with its reason.
    """

    def __init__(self, loss_mask: dict[str, tuple[str, ...]]):
        self._loss_mask = loss_mask

    def setup(self) -> None:
        self._sha: str | None = None

    def process(self, batch: list[Record], art: TokenizerArtifact) -> Iterator[Any]:
        with stage_timer("tokenize"):
            out = list(self._encode(batch, art))
        yield from out

    def _encode(self, batch: list[Record], art: TokenizerArtifact) -> Iterator[Any]:
        if self._sha != art.sha256:
            self._tok, self._sha = tokenizer_from_str(art.json), art.sha256
            reason = fallback_reason(self._tok)
            self._path = ("encoder", "fast") if reason is None else (
                "encoder", "fallback", reason)
        yield beam.pvalue.TaggedOutput(ENCODER, (self._path, len(batch)))
        tick("encoded", len(batch), sum(len(r.text.encode("utf-8", "surrogatepass"))
                                        for r in batch))
        # Each text is cut at its ranges' ends (``pipelines.spans``), so they fall on token
        # boundaries; all pieces of the batch are encoded in one call.
        ranges = [{} if r.kind == "pair" else document_ranges(r, self._loss_mask[r.component])
                  for r in batch]
        pieces = [[r.docstring, r.code] if r.kind == "pair" else cut(r.text, rs)
                  for r, rs in zip(batch, ranges)]
        encoded = iter(encode_batch(self._tok, [p for ps in pieces for p in ps]))
        sep = np.array([art.special_ids[SEP]], dtype=np.uint32)
        for r, rs, ps in zip(batch, ranges, pieces):
            parts = [next(encoded) for _ in ps]
            if r.kind == "pair":
                # A pair is docstring <sep> code, so objectives can find the split.
                ids, token_ranges = np.concatenate([parts[0], sep, parts[1]]), {}
            else:
                ids, token_ranges = assemble(ps, parts, rs)
            if ids.size == 0:
                yield beam.pvalue.TaggedOutput(DROPPED, Drop.of(r, "tokenize", "no_tokens"))
            else:
                yield r.component, EncodedDoc(
                    r.id, ids, {**r.shard_meta(), **token_ranges}, r.source,
                    len(r.text.encode("utf-8", "surrogatepass")))


class TokenizeRecords(beam.PTransform):
    """Records to ``(component, EncodedDoc)``; returns ``(encoded, drops, encoder_counts)``,
    the last as ``ENCODER`` describes."""

    def __init__(self, tokenizer, loss_mask: dict[str, tuple[str, ...]]):
        """``loss_mask``: component name -> its ``ComponentSpec.loss_mask``."""
        super().__init__()
        self._tokenizer = tokenizer
        self._loss_mask = loss_mask

    def expand(self, records):
        out = (records
               | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=256)
               | "Encode" >> beam.ParDo(_EncodeDoFn(self._loss_mask), beam.pvalue.AsSingleton(
                   self._tokenizer)).with_outputs(DROPPED, ENCODER, main="encoded"))
        return out.encoded, out[DROPPED], out[ENCODER]

