"""Pathological input to the parse stage: over the size cap, past the time limit, deeply
nested, truncated, or in the wrong language. Each is counted and ends in exactly one place;
none crashes the stage."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from code_samples import VALID
from pipelines.accounting import Drop
from pipelines.config import parse_config
from pipelines.parse import Parsers, syntax_verdict
from pipelines.parse.health import PARSED, TIMEOUT, TOO_LARGE
from pipelines.parse.transform import ParseCode
from pipelines.records import Record, record_id
from pipelines.spans import parse_ranges

SLOW = "def f(): " * 40_000
"""Python read as C++: tree-sitter's error recovery takes seconds on these 360 KB (4.5 s
on one core of the 2-core build box), where a real file of that size takes well under 0.1 s;
time limits in these tests sit between the two."""


def test_a_document_over_the_size_cap_is_not_parsed():
    result = Parsers().analyze("x = 1\n" * 1000, "python", max_bytes=5999)
    assert result.status == TOO_LARGE and result.num_bytes == 6000
    assert not result.extracted and result.pairs == () and result.functions == ()
    assert syntax_verdict(result, 0.0) is None


def test_a_parse_past_the_time_limit_stops_and_the_parser_recovers():
    parsers = Parsers()
    result = parsers.analyze(SLOW, "cpp", timeout_s=0.05)
    assert result.status == TIMEOUT and not result.extracted
    # The stopped parse is not resumed by the next document.
    text = VALID["cpp"][0]
    after = parsers.analyze(text, "cpp")
    assert after.status == PARSED and after.error_ratio == 0.0
    assert after == Parsers().analyze(text, "cpp")


def test_deep_nesting_parses_without_recursion_limits():
    parsers = Parsers()
    depth = 50_000
    cases = {"json": "[" * depth + "]" * depth, "python": "x = " + "(" * depth + ")" * depth,
             "javascript": "f(" * depth + ")" * depth + ";",
             "c": "int f() {" + "{" * depth + "}" * depth + "}"}
    for lang, text in cases.items():
        result = parsers.analyze(text, lang)
        assert result.status == PARSED, lang
        assert 0.0 <= result.error_ratio <= 1.0
        parse_ranges(text, result, ("license_header",))


def test_truncated_and_wrong_language_files_are_syntax_errors():
    parsers = Parsers()
    java = VALID["java"][0]
    assert syntax_verdict(parsers.analyze(java[:len(java) // 2], "java"), 0.02)
    assert syntax_verdict(parsers.analyze(VALID["python"][0], "java"), 0.02)
    assert syntax_verdict(parsers.analyze(VALID["rust"][0], "go"), 0.02)


def _rec(text: str, lang: str, path: str) -> Record:
    return Record(id=record_id(path, text), text=text, kind="code", lang=lang, component="code",
                  path=path, source="src")


def test_every_pathological_document_is_counted_and_kept_or_dropped_once():
    config = parse_config({"output": "out", "filters": {"parse_max_bytes": 400_000,
                                                         "parse_timeout_s": 1.0},
                           "components": {"code": {"kind": "code", "weight": 1.0,
                                                   "inputs": [{"url": "x", "format": "folder"}]}}},
                          check_paths=False)
    big = _rec("x = 1\n" * 70_000, "python", "big.py")
    slow = _rec(SLOW, "cpp", "slow.cpp")
    deep = _rec("[" * 30_000 + "]" * 30_000, "json", "deep.json")
    truncated = _rec(VALID["java"][0][:len(VALID["java"][0]) // 2], "java", "cut.java")
    wrong = _rec(VALID["python"][0], "java", "wrong.java")
    binary = _rec("\x00\x01\xff\ufffd" * 500, "c", "noise.c")
    with TestPipeline() as p:
        records, drops, pairs, counts = (
            p | beam.Create([big, slow, deep, truncated, wrong, binary]) | ParseCode(config))
        assert_that(records, equal_to([big, slow, deep]), label="records")
        assert_that(drops, equal_to([Drop.of(r, "parse", "syntax_error")
                                     for r in (truncated, wrong, binary)]), label="drops")
        assert_that(pairs, equal_to([]), label="pairs")
        assert_that(counts | beam.Filter(lambda kv: kv[0][0] == "parse" and kv[0][1] != "bytes")
                    | beam.CombinePerKey(sum), equal_to([
                        (("parse", "too_large", "python"), 1), (("parse", "timeout", "cpp"), 1),
                        (("parse", "parsed", "json"), 1), (("parse", "parsed", "java"), 2),
                        (("parse", "parsed", "c"), 1)]), label="counts")
