"""Doc/code pairs with CodeSearchNet's rules (pipelines/parse/pairs.py) in every pair
language, on the files of ``pair_samples``: decorators and annotations, nested and
overloaded definitions, a comment between a doc and its definition, unicode identifiers,
and a file with syntax errors."""

from __future__ import annotations

import pytest

from pair_samples import PAIRS
from pipelines.parse import Pair, PairRules, Parsers, select_pairs
from pipelines.parse.pairs import skip_reason

DECORATED = {
    "python": ("fibonacci", "@functools.cache"), "java": ("add", "@Override"),
    "typescript": ("register", "@logged"), "rust": ("gcd", "#[inline]"),
    "php": ("deposit", "#[Pure]"), "csharp": ("Add", "[Pure]"),
    "cpp": ("add", "[[nodiscard]] size_t add(Point p) {"), "javascript": ("formatPrice", "export"),
}
"""Per language, a pair whose code starts with its decorator, annotation or export."""


@pytest.fixture(scope="module")
def parsers() -> Parsers:
    return Parsers()


@pytest.mark.parametrize("lang", sorted(PAIRS))
def test_pairs_follow_codesearchnet_rules(parsers, lang):
    source, expected = PAIRS[lang]
    result = parsers.analyze(source, lang)
    assert result.error_ratio == 0.0
    assert [(p.name, p.docstring) for p in select_pairs(result.pairs, PairRules())] == expected


@pytest.mark.parametrize("lang", sorted(PAIRS))
def test_pair_code_is_the_definition_without_its_doc(parsers, lang):
    source, _ = PAIRS[lang]
    for pair in select_pairs(parsers.analyze(source, lang).pairs, PairRules()):
        assert pair.docstring.splitlines()[0] not in pair.code
        assert pair.code.splitlines()[0].strip() in source
        assert sum(1 for line in pair.code.splitlines() if line.strip()) >= 3


@pytest.mark.parametrize("lang", sorted(DECORATED))
def test_decorators_and_annotations_stay_with_the_code(parsers, lang):
    name, first = DECORATED[lang]
    pairs = select_pairs(parsers.analyze(PAIRS[lang][0], lang).pairs, PairRules())
    assert next(p for p in pairs if p.name == name).code.startswith(first)


@pytest.mark.parametrize("lang", sorted(PAIRS))
def test_a_file_with_syntax_errors_gives_only_real_pairs(parsers, lang):
    source, expected = PAIRS[lang]
    broken = source[:len(source) * 3 // 4] + "\n)(]{\n"
    result = parsers.analyze(broken, lang)
    assert result.has_error and result.error_ratio > 0
    got = [(p.name, p.docstring) for p in select_pairs(result.pairs, PairRules())]
    assert got and got == expected[:len(got)]


def _pair(name="area", docstring="Area of the shape in square units.",
          code="def area(self):\n    w = self.w\n    return w * self.h", constructor=False):
    return Pair(name, 1, 3, docstring, code, constructor)


@pytest.mark.parametrize("pair,reason", [
    (_pair(), None),
    (_pair(docstring="Area of."), "short_doc"),
    (_pair(code="def area(self):\n    return self.w"), "short_code"),
    (_pair(code="def area(self):\n\n    return self.w\n\n"), "short_code"),
    (_pair(name="test_area"), "test"),
    (_pair(name="testArea"), "test"),
    (_pair(name="AreaTest"), "test"),
    (_pair(name="latest"), None),
    (_pair(name="__init__", constructor=True), "constructor"),
    (_pair(name="toString"), "standard_method"),
    (_pair(name="getWidth", code="int getWidth() {\n  return w;\n}"), "accessor"),
    (_pair(name="get_width", code="def get_width(self):\n    w = self.w\n    return w"), None),
])
def test_skip_reasons(pair, reason):
    assert skip_reason(pair, PairRules()) == reason


def test_every_rule_can_be_relaxed():
    rules = PairRules(min_doc_tokens=1, min_code_lines=1, skip_tests=False,
                      skip_constructors=False, skip_accessors=False,
                      skip_standard_methods=False)
    for pair in (_pair(docstring="Area."), _pair(code="def area(self): return 1"),
                 _pair(name="test_area"), _pair(name="__init__", constructor=True),
                 _pair(name="toString"),
                 _pair(name="getWidth", code="int getWidth() {\n  return w;\n}")):
        assert skip_reason(pair, rules) is None


def test_exact_duplicates_in_a_file_are_kept_once():
    pair = _pair()
    moved = pair._replace(start_line=10, end_line=12)
    other = _pair(code="def area(self):\n    h = self.h\n    return h * self.w")
    assert select_pairs((pair, moved, other), PairRules()) == [pair, other]


def test_rules_are_validated():
    with pytest.raises(ValueError, match="min_doc_tokens"):
        PairRules(min_doc_tokens=-1)
