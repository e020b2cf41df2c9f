"""``ParseCode``: the parse stage as a Beam composite; the logic is in the pure modules.

Every code document is parsed with its language's grammar (built once per worker, in
``DoFn.setup``, each grammar on first use), dropped as ``syntax_error`` above its
component's error bound, given its syntax spans, and cut into pairs for the pair
components fed from its component. A document in a language without a grammar, or one the
parser gave up on (``too_large``, ``timeout``), passes through unchecked. Each of these
outcomes is counted per language for stats.json's ``parse`` section (``parse_stats``), and
each checked document's health per component for its ``profile`` (``parse_count``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from pipelines.accounting import Drop
from pipelines.config import BuildConfig, FilterSpec
from pipelines.parse.analysis import Parsers
from pipelines.parse.health import PARSED, syntax_verdict
from pipelines.parse.pairs import PairRules, pair_records
from pipelines.profile import parse_count
from pipelines.records import Record
from pipelines.spans import parse_ranges
from pipelines.stage import DROPPED
from pipelines.timing import stage_timer

PAIRS = "pairs"
"""Tag of the pairs output."""

COUNTS = "counts"
"""Tag of the counters output: ``(("parse", what, lang), n)`` and ``parse_count``'s."""


class _ParseDoFn(beam.DoFn):
    """Syntax health, spans and bimodal pairs; grammars are built once per worker."""

    def __init__(self, filters: dict[str, FilterSpec],
                 pair_components: dict[str, list[tuple[str, PairRules]]],
                 loss_mask: dict[str, tuple[str, ...]]):
        self._filters = filters
        self._pair_components = pair_components
        self._loss_mask = loss_mask

    def setup(self) -> None:
        self._parsers = Parsers()

    def process(self, record: Record) -> Iterator[Any]:
        with stage_timer("parse"):
            out = list(self._parse(record))
        yield from out

    def _parse(self, record: Record) -> Iterator[Any]:
        if record.kind != "code":
            yield record
            return
        filters = self._filters[record.component]
        result = self._parsers.analyze(record.text, record.lang, record.path,
                                       max_bytes=filters.parse_max_bytes,
                                       timeout_s=filters.parse_timeout_s)
        if result is None:
            yield beam.pvalue.TaggedOutput(COUNTS, (("parse", "unparsed", record.lang), 1))
            yield record
            return
        yield beam.pvalue.TaggedOutput(COUNTS, (("parse", result.status, record.lang), 1))
        if result.status != PARSED:
            yield beam.pvalue.TaggedOutput(COUNTS, parse_count(record.component, record.lang,
                                                               result.status))
            yield record
            return
        yield beam.pvalue.TaggedOutput(COUNTS, (("parse", "bytes", record.lang),
                                                result.num_bytes))
        reason = syntax_verdict(result, filters.max_error_ratio)
        yield beam.pvalue.TaggedOutput(COUNTS, parse_count(record.component, record.lang,
                                                           reason or "ok"))
        if reason:
            yield beam.pvalue.TaggedOutput(DROPPED, Drop.of(record, "parse", reason))
            return
        ranges = parse_ranges(record.text, result, self._loss_mask[record.component])
        yield record.replace(meta={**record.meta, **ranges}) if ranges else record
        for component, rules in self._pair_components.get(record.component, ()):
            pairs = pair_records(record, result, component, rules)
            if pairs:
                yield beam.pvalue.TaggedOutput(COUNTS, (("parse", "pairs", record.lang),
                                                        len(pairs)))
            for pair in pairs:
                yield beam.pvalue.TaggedOutput(PAIRS, pair)


class ParseCode(beam.PTransform):
    """tree-sitter parse: drop broken code, add syntax spans, extract doc/code pairs.

    Returns ``(records, drops, pairs, counts)``; ``counts`` feed ``parse_stats``.
    """

    def __init__(self, config: BuildConfig):
        super().__init__()
        self._filters = {c.name: c.filters for c in config.components}
        self._loss_mask = {c.name: c.loss_mask for c in config.components}
        self._pair_components: dict[str, list[tuple[str, PairRules]]] = {}
        for comp in config.components:
            for source in comp.pairs_from:
                self._pair_components.setdefault(source, []).append(
                    (comp.name, comp.pair_rules))

    def expand(self, records):
        out = records | "Parse" >> beam.ParDo(
            _ParseDoFn(self._filters, self._pair_components,
                       self._loss_mask)).with_outputs(DROPPED, PAIRS, COUNTS, main="records")
        return out.records, out[DROPPED], out[PAIRS], out[COUNTS]


def parse_stats(counts: Iterable[tuple[tuple, int]]) -> dict[str, Any]:
    """stats.json's ``parse`` section from the build's merged counters.

    Returns:
        ``{"languages": {lang: {"parsed", "bytes", "pairs", "pairs_per_mb", "timeout",
        "too_large"}}, "unparsed": {lang: documents}}``: per language with a grammar, the
        code documents parsed (syntax errors included), their UTF-8 bytes, the pair records
        cut from them (one per pair component) and pairs per MB (10^6 bytes) of that code,
        and the documents not parsed for their size or time; per language without a
        grammar, the documents that passed through. Sorted by language.
    """
    langs: dict[str, dict[str, Any]] = {}
    unparsed: dict[str, int] = {}
    for key, n in counts:
        if key[0] != "parse":
            continue
        what, lang = key[1], key[2]
        if what == "unparsed":
            unparsed[lang] = unparsed.get(lang, 0) + n
            continue
        entry = langs.setdefault(lang, {"parsed": 0, "bytes": 0, "pairs": 0,
                                        "timeout": 0, "too_large": 0})
        entry[what] += n
    for entry in langs.values():
        entry["pairs_per_mb"] = round(entry["pairs"] / (entry["bytes"] / 1e6), 3) \
            if entry["bytes"] else 0.0
    return {"languages": {k: dict(sorted(v.items())) for k, v in sorted(langs.items())},
            "unparsed": dict(sorted(unparsed.items()))}
