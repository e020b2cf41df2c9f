"""Shard writing: each component's encoded documents grouped into shards and written.

A document's shard is a hash of its id and a shard's documents are sorted by id, so the
shards are byte-identical whatever order the documents arrive in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import apache_beam as beam

from pipelines.timing import Timed
from pipelines.tokenizing import EncodedDoc, TokenizerArtifact
from shards.format import dtype_for_vocab, write_shard
from shards.manifest import SHARD_SUFFIXES, ShardEntry


def shard_count(tokens: int, target_tokens: int) -> int:
    """Shards for a component of ``tokens`` tokens, about ``target_tokens`` each."""
    return max(1, math.ceil(tokens / target_tokens))


def shard_of(doc_id: str, count: int) -> int:
    """The shard a document goes to: a hash of its id, so placement ignores arrival order."""
    return int(doc_id[:12], 16) % count


def shard_name(component: str, index: int, compress: bool) -> str:
    """Shard path relative to the output folder."""
    return f"{component}/{index:05d}" + SHARD_SUFFIXES[1 if compress else 0]


def _write_group(item: tuple[tuple[str, int], Iterable[EncodedDoc]], output: str,
                 compress: bool, art: TokenizerArtifact) -> tuple[str, ShardEntry]:
    (component, index), docs = item
    ordered = sorted(docs, key=lambda d: d.id)
    rel = shard_name(component, index, compress)
    info = write_shard(f"{output.rstrip('/')}/{rel}", ((d.tokens, d.meta) for d in ordered),
                       dtype_for_vocab(art.vocab_size), compress=compress)
    return component, ShardEntry(path=rel, sha256=info.sha256, docs=info.docs,
                                 tokens=info.tokens)


class WriteShards(beam.PTransform):
    """Group each component's documents into shards (sorted by id) and write them.

    Returns ``(component, ShardEntry)`` per shard written.
    """

    def __init__(self, output: str, target_tokens: int, compress: bool, tokenizer):
        super().__init__()
        self._output, self._target, self._compress = output, target_tokens, compress
        self._tokenizer = tokenizer

    def expand(self, encoded):
        totals = (encoded
                  | "Tokens" >> beam.Map(lambda kv: (kv[0], int(kv[1].tokens.size)))
                  | "SumTokens" >> beam.CombinePerKey(sum))
        target = self._target
        return (encoded
                | "AssignShard" >> beam.Map(
                    lambda kv, t: ((kv[0], shard_of(kv[1].id, shard_count(t[kv[0]], target))),
                                   kv[1]), beam.pvalue.AsDict(totals))
                | "GroupShard" >> beam.GroupByKey()
                | "Write" >> beam.Map(Timed("write", _write_group), self._output,
                                      self._compress, beam.pvalue.AsSingleton(self._tokenizer)))

