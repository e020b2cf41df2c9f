"""Tree-sitter stage: syntax health, definitions and spans, docstring<->code pairs.

Modules, one concern each:

- ``grammars``: which grammar wheel parses which language, loaded once per process;
- ``definitions``: per-language tables of what a definition is, for one shared walker;
- ``health``: the error ratio and the syntax verdict;
- ``docs``: doc comments in each language's own form, read to their first paragraph;
- ``analysis``: one parse of one document, the shared walker, ``ParseResult``;
- ``candidates``: a definition's doc found and cut out of its code;
- ``pairs``: CodeSearchNet's rules for which candidates become pairs;
- ``transform``: the Beam composite ``ParseCode`` (imported from there, not here, so the
  pure modules load without Beam).

The names below are the stage's pure API.
"""

from pipelines.parse.analysis import (MAX_PARSE_BYTES, PARSE_TIMEOUT_S, Pair, ParseResult,
                                     Parsers, Span, analyze, get_parser)
from pipelines.parse.grammars import LANGUAGES, WITHOUT_GRAMMAR, canonical_language
from pipelines.parse.health import SYNTAX_ERROR, syntax_verdict
from pipelines.parse.pairs import PairRules, pair_records, pair_text, select_pairs

__all__ = ["LANGUAGES", "MAX_PARSE_BYTES", "PARSE_TIMEOUT_S", "SYNTAX_ERROR",
           "WITHOUT_GRAMMAR", "Pair", "PairRules", "ParseResult", "Parsers", "Span", "analyze",
           "canonical_language", "get_parser", "pair_records", "pair_text", "select_pairs",
           "syntax_verdict"]
