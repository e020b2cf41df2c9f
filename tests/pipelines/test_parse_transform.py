"""ParseCode on a TestPipeline (pipelines/parse/transform.py), and stats.json's parse
section, with exact, complete expected outputs."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from code_samples import BROKEN, VALID
from pipelines.accounting import Drop
from configuration.loader import ConfigError
from pipelines.config import parse_config
from pipelines.parse import PairRules, analyze, pair_records
from pipelines.parse.transform import ParseCode, parse_stats
from pipelines.records import Record, record_id
from pipelines.spans import parse_ranges

DOCUMENTED = '''def scale(values, factor):
    """Multiply every value by the given factor."""
    out = []
    for v in values:
        out.append(v * factor)
    return out
'''


def _config(**pair_rules):
    code = {"kind": "code", "weight": 0.3, "inputs": [{"url": "x", "format": "folder"}]}
    return parse_config({"output": "out", "components": {
        "code": code, "prose": {**code, "kind": "text"},
        "pairs": {"kind": "pair", "weight": 0.1, "pairs_from": ["code"],
                  "pair_rules": pair_rules}}},
        check_paths=False)


def _rec(text: str, lang: str, path: str, kind: str = "code", component: str = "code"):
    return Record(id=record_id(path, text), text=text, kind=kind, lang=lang,
                  component=component, path=path, source="src")


def test_parse_code_routes_every_document_and_counts_per_language():
    good = _rec(DOCUMENTED, "python", "a.py")
    go = _rec(VALID["go"][0], "go", "b.go")
    broken = _rec(BROKEN["rust"], "rust", "c.rs")
    r_code = _rec("f <- function(x) x + 1\n", "r", "d.R")
    cobol = _rec("IDENTIFICATION DIVISION.\n", "cobol", "e.cob")
    prose = _rec("Plain prose, never parsed.", "en", "f.txt", kind="text", component="prose")
    with TestPipeline() as p:
        records, drops, pairs, counts = (
            p | beam.Create([good, go, broken, r_code, cobol, prose]) | ParseCode(_config()))
        expected_good = good.replace(meta=parse_ranges(good.text, analyze(good.text, "python"),
                                                       ()))
        expected_go = go.replace(meta=parse_ranges(go.text, analyze(go.text, "go"), ()))
        assert_that(records, equal_to([expected_good, expected_go, r_code, cobol, prose]),
                    label="records")
        assert_that(drops, equal_to([Drop.of(broken, "parse", "syntax_error")]), label="drops")
        assert_that(pairs, equal_to(pair_records(good, analyze(good.text, "python"), "pairs")),
                    label="pairs")
        assert_that(counts | beam.CombinePerKey(sum), equal_to([
            (("parse", "parsed", "python"), 1), (("parse", "bytes", "python"), len(DOCUMENTED)),
            (("parse", "pairs", "python"), 1),
            (("parse", "parsed", "go"), 1), (("parse", "bytes", "go"), len(VALID["go"][0])),
            (("parse", "parsed", "rust"), 1), (("parse", "bytes", "rust"), len(BROKEN["rust"])),
            (("parse", "unparsed", "r"), 1), (("parse", "unparsed", "cobol"), 1),
            # each checked document's health, for stats.json's profile
            (("profile", "code", "parse", "python", "ok"), 1),
            (("profile", "code", "parse", "go", "ok"), 1),
            (("profile", "code", "parse", "rust", "syntax_error"), 1)]),
            label="counts")


def test_pair_rules_come_from_the_pair_component():
    assert _config(min_code_lines=7).component("pairs").pair_rules == PairRules(
        min_code_lines=7)
    good = _rec(DOCUMENTED, "python", "a.py")
    with TestPipeline() as p:
        _, _, pairs, _ = p | beam.Create([good]) | ParseCode(_config(min_code_lines=7))
        assert_that(pairs, equal_to([]))


def test_pair_rules_belong_to_pair_components_only():
    with pytest.raises(ConfigError, match="pair_rules is only for a pair component"):
        parse_config({"output": "out", "components": {"code": {
            "kind": "code", "weight": 1.0, "inputs": [{"url": "x", "format": "folder"}],
            "pair_rules": {"min_code_lines": 2}}}}, check_paths=False)


def test_parse_stats_reports_pairs_per_mb_and_unparsed_languages():
    counts = [(("parse", "parsed", "python"), 4), (("parse", "bytes", "python"), 500_000),
              (("parse", "pairs", "python"), 30), (("parse", "unparsed", "r"), 2),
              (("parse", "timeout", "go"), 1), (("lang", "code", "python"), 9)]
    assert parse_stats(counts) == {
        "languages": {
            "go": {"bytes": 0, "pairs": 0, "pairs_per_mb": 0.0, "parsed": 0, "timeout": 1,
                   "too_large": 0},
            "python": {"bytes": 500_000, "pairs": 30, "pairs_per_mb": 60.0, "parsed": 4,
                       "timeout": 0, "too_large": 0}},
        "unparsed": {"r": 2}}
