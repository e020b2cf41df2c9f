"""Syntax health in every language (pipelines/parse/health.py): a correct file scores 0, a
file with a real syntax error scores above the default per-component bound."""

from __future__ import annotations

import pytest

from code_samples import BROKEN, VALID
from pipelines.config import FilterSpec
from pipelines.parse import LANGUAGES, SYNTAX_ERROR, Parsers, syntax_verdict
from pipelines.parse.health import PARSED

BOUND = FilterSpec().max_error_ratio


def _path(lang: str) -> str:
    return "sample.tsx" if lang == "tsx" else ""


@pytest.fixture(scope="module")
def parsers() -> Parsers:
    return Parsers()


def test_samples_cover_every_grammar():
    assert set(VALID) == set(BROKEN) == set(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_correct_file_scores_zero(parsers, lang):
    result = parsers.analyze(VALID[lang][0], lang, _path(lang))
    assert result.status == PARSED
    assert result.error_ratio == 0.0 and not result.has_error
    assert syntax_verdict(result, BOUND) is None


@pytest.mark.parametrize("lang", LANGUAGES)
def test_file_with_a_syntax_error_scores_above_the_bound(parsers, lang):
    result = parsers.analyze(BROKEN[lang], lang, _path(lang))
    assert result.status == PARSED and result.has_error
    assert result.error_ratio > BOUND
    assert syntax_verdict(result, BOUND) == SYNTAX_ERROR
