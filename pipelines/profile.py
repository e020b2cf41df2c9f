"""What the kept corpus is made of, counted during the build for stats.json's ``profile``.

Per component: languages by documents, tokens and bytes (so bytes per token by language),
licenses by documents and tokens, document lengths in tokens as a histogram of
power-of-two bins, and parse health by language (documents parsed cleanly or dropped as
``syntax_error``). All are counters merged like the funnel's, so the profile costs one
pass over what the build already holds and nothing is read back afterwards; the report
(``report/``) draws it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

PROFILE = "profile"
"""First element of every profile counter key: ``("profile", component, table, *key)``."""


def length_bin(tokens: int) -> int:
    """The histogram bin of a document of ``tokens`` tokens: the largest power of two not
    above it (1 for 1, 2 for 2–3, 4 for 4–7, ...); 0 for an empty document."""
    return 1 << (tokens.bit_length() - 1) if tokens > 0 else 0


def kept_counts(component: str, meta: dict[str, Any], tokens: int,
                size: int) -> Iterator[tuple[tuple, int]]:
    """Profile counters of one kept document: ``meta`` is its shard metadata, ``tokens``
    its token count and ``size`` its text's UTF-8 bytes."""
    lang, license_ = meta.get("lang") or "unknown", meta.get("license") or "unknown"
    yield (PROFILE, component, "languages", lang, "docs"), 1
    yield (PROFILE, component, "languages", lang, "tokens"), tokens
    yield (PROFILE, component, "languages", lang, "bytes"), size
    yield (PROFILE, component, "licenses", license_, "docs"), 1
    yield (PROFILE, component, "licenses", license_, "tokens"), tokens
    yield (PROFILE, component, "length_tokens", str(length_bin(tokens))), 1


def parse_count(component: str, lang: str, outcome: str) -> tuple[tuple, int]:
    """The parse-health counter of one parsed document; ``outcome`` is ``ok`` or the drop
    reason."""
    return (PROFILE, component, "parse", lang or "unknown", outcome), 1


def profile(counts: Iterable[tuple[tuple, int]]) -> dict[str, Any]:
    """stats.json's ``profile``: ``{component: {"languages": {lang: {"docs", "tokens",
    "bytes"}}, "licenses": {license: {"docs", "tokens"}}, "length_tokens": {bin: docs},
    "parse": {lang: {outcome: docs}}}}``, every mapping sorted (bins numerically)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for key, n in counts:
        if key[0] != PROFILE:
            continue
        _, component, table, *rest = key
        tables = out.setdefault(component, {"languages": {}, "licenses": {},
                                            "length_tokens": {}, "parse": {}})
        if len(rest) == 1:
            tables[table][rest[0]] = tables[table].get(rest[0], 0) + n
        else:
            row = tables[table].setdefault(rest[0], {})
            row[rest[1]] = row.get(rest[1], 0) + n
    for tables in out.values():
        for name, table in tables.items():
            order = (lambda k: int(k)) if name == "length_tokens" else (lambda k: k)
            tables[name] = {k: dict(sorted(v.items())) if isinstance(v, dict) else v
                            for k, v in sorted(table.items(), key=lambda kv: order(kv[0]))}
    return dict(sorted(out.items()))
