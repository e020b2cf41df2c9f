"""Licenses: which file states a repository's license, which license it states, and
whether a license expression is permissive.

A license file is recognised by its name at the repository root (``LICENSE``,
``COPYING.txt``, ``LICENSE-MIT``, ...). Its license is recognised by phrases that only
that license's text uses (the MIT grant "permission is hereby granted, free of charge",
the BSD "redistribution and use in source and binary forms", a GNU license's title and
version, ...), matched on the text lower-cased with punctuation and line breaks
flattened, so comment markers, Markdown and re-wrapping do not matter. When a file holds
several licenses (a project's own followed by those of bundled code), the one stated first
is the repository's. This is what licensee and ScanCode do in their simplest mode; they
also score near-copies of every SPDX text, which catches more edited variants at far more
cost. An unrecognised text gives None, never a guess.

``is_permissive`` reads SPDX expressions (``MIT OR Apache-2.0``; ``WITH`` exceptions only
add permissions, so they are ignored), The Stack's lists of a repository's licenses
joined by `` AND ``, and the spellings package metadata uses (``Apache 2.0``, ``MIT
License``, ``BSD``). Anything it does not know is not permissive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam

from dedup.rank import NO_LICENSE_TIER, OTHER_LICENSE_TIER, PERMISSIVE_TIER
from pipelines.config import ComponentSpec
from pipelines.languages import LANGUAGE_KIND, language_of
from pipelines.records import Record

PERMISSIVE = frozenset((
    "0BSD", "Apache-1.1", "Apache-2.0", "BlueOak-1.0.0", "BSD-1-Clause", "BSD-2-Clause",
    "BSD-3-Clause", "BSD-4-Clause", "BSL-1.0", "CC-BY-3.0", "CC-BY-4.0", "CC0-1.0", "curl",
    "ECL-2.0", "HPND", "ISC", "MIT", "MIT-0", "MIT-CMU", "MulanPSL-2.0", "NCSA", "PostgreSQL",
    "PSF-2.0", "Python-2.0", "Unicode-3.0", "Unicode-DFS-2016", "Unlicense", "UPL-1.0",
    "WTFPL", "X11", "Zlib"))
"""SPDX ids of permissive licenses: use, change and redistribution allowed with at most an
attribution requirement. Any other ``BSD-*`` id counts too."""

_SPELLINGS = {
    "MIT": ("MIT", "Expat", "MIT/Expat"),
    "MIT-0": ("MIT No Attribution",),
    "Apache-2.0": ("Apache", "Apache 2", "Apache2", "ASL 2.0", "ASL 2", "Apache Software",
                   "Apache Software License 2.0", "Apache License Version 2"),
    "BSD-2-Clause": ("BSD 2-Clause", "2-Clause BSD", "Simplified BSD", "FreeBSD",
                     "BSD-2-Clause-FreeBSD"),
    "BSD-3-Clause": ("BSD 3-Clause", "3-Clause BSD", "New BSD", "Modified BSD", "Revised BSD"),
    "BSD-4-Clause": ("4-Clause BSD", "Original BSD"),
    "0BSD": ("Zero-Clause BSD", "BSD Zero Clause", "BSD-0-Clause"),
    "ISC": ("ISCL",),
    "CC0-1.0": ("CC0", "CC0 1.0 Universal", "Creative Commons Zero"),
    "Zlib": ("zlib/libpng", "zlib-acknowledgement"),
    "BSL-1.0": ("Boost", "Boost Software License 1.0", "Boost Software License"),
    "PSF-2.0": ("PSF", "PSFL", "Python Software Foundation", "PSF License Agreement"),
    "Python-2.0": ("Python",),
    "WTFPL": ("Do What The F*ck You Want To Public License",),
    "MPL-2.0": ("Mozilla Public License 2.0", "MPL 2.0", "MPLv2"),
    "LGPL-2.1": ("LGPLv2.1", "LGPL 2.1", "GNU Lesser General Public License v2.1"),
    "LGPL-3.0": ("LGPLv3", "LGPL 3", "GNU Lesser General Public License v3"),
    "GPL-2.0": ("GPLv2", "GPL 2", "GNU General Public License v2"),
    "GPL-3.0": ("GPLv3", "GPL 3", "GNU General Public License v3"),
    "AGPL-3.0": ("AGPLv3", "AGPL 3", "GNU Affero General Public License v3"),
}
_FILLER = frozenset(("the", "license", "licence", "licensed", "version", "v", "software",
                     "only", "or", "later"))
_NAME_FILES = re.compile(r"(licen[cs]e|copying|copyright|unlicense)([-._][\w.-]*)?", re.I)
_TEXT_EXTENSIONS = (".txt", ".md", ".markdown", ".rst")
_MAX_TEXT = 200_000
_MAX_PARENS = 64


def is_license_file(path: str) -> bool:
    """True for a file at the repository root whose name says it holds the license:
    ``LICENSE``, ``LICENCE``, ``COPYING``, ``COPYRIGHT``, ``UNLICENSE``, with a text
    extension (``LICENSE.md``) or a suffix (``LICENSE-MIT``, ``LICENSE.APACHE``,
    ``COPYING.LESSER``). Code files so named (``license.py``) are not license files."""
    if "/" in path or not _NAME_FILES.fullmatch(path):
        return False
    if path.lower().endswith(_TEXT_EXTENSIONS):
        return True
    return LANGUAGE_KIND.get(language_of(path, "") or "") != "programming"


def repo_license(path: str, text: str) -> str | None:
    """The SPDX id a repository file states for the whole repository: the license of a
    root license file (see ``is_license_file``), else None."""
    return detect_license(text) if is_license_file(path) else None


# ------------------------------------------------------------------------- detection

def _flat(text: str) -> str:
    """Text lower-cased with everything but letters, digits and version dots (``2.0``)
    turned into single spaces, so phrases match however the file is wrapped, commented or
    marked up."""
    return re.sub(r"(?:[^a-z0-9.]|(?<!\d)\.|\.(?!\d))+", " ", text[:_MAX_TEXT].lower())


def _gnu(match: re.Match, text: str) -> str | None:
    """A GNU license by its title's kind and the version that follows it."""
    version = re.match(r"[a-z ]{0,120}?version (\d(?:\.\d)?)", text[match.end():])
    if not version:
        return None
    kind, number = (match[1] or "").strip(), version[1]
    if kind == "affero":
        return "AGPL-3.0" if number.startswith("3") else None
    if kind in ("lesser", "library"):
        return {"2": "LGPL-2.0", "2.0": "LGPL-2.0", "2.1": "LGPL-2.1", "3": "LGPL-3.0",
                "3.0": "LGPL-3.0"}.get(number)
    return {"1": "GPL-1.0", "2": "GPL-2.0", "2.0": "GPL-2.0", "3": "GPL-3.0",
            "3.0": "GPL-3.0"}.get(number)


def _bsd(match: re.Match, text: str) -> str:
    """BSD by its clauses: the ones between the grant and the disclaimer."""
    clauses = text[match.end():match.end() + 3000].split("this software is provided by")[0]
    if "advertising materials mentioning" in clauses:
        return "BSD-4-Clause"
    if re.search(r"neither the name|endorse or promote", clauses):
        return "BSD-3-Clause"
    return "BSD-2-Clause"


def _mit(match: re.Match, text: str) -> str:
    """MIT, or MIT-0 when the grant asks for no notice to be kept."""
    kept = "above copyright notice and this permission notice shall be included"
    return "MIT" if kept in text[match.end():match.end() + 2000] else "MIT-0"


def _isc(match: re.Match, text: str) -> str:
    """ISC, or 0BSD (the same grant without the notice condition)."""
    return "ISC" if match[2] else "0BSD"


def _fixed(spdx: str) -> Callable[[re.Match, str], str]:
    return lambda match, text: spdx


_RULES: tuple[tuple[re.Pattern, Callable[[re.Match, str], str | None]], ...] = tuple(
    (re.compile(pattern), resolve) for pattern, resolve in (
        (r"python software foundation license (agreement|version 2)|psf license agreement",
         _fixed("PSF-2.0")),
        (r"gnu (affero |lesser |library )?general public license", _gnu),
        (r"apache license version 2\.0", _fixed("Apache-2.0")),
        (r"mozilla public licen[cs]e (mpl )?(version |v )?2\.0", _fixed("MPL-2.0")),
        (r"eclipse public license (version |v )?2\.0", _fixed("EPL-2.0")),
        (r"eclipse public license (version |v )?1\.0", _fixed("EPL-1.0")),
        (r"boost software license (version )?1\.0", _fixed("BSL-1.0")),
        (r"this is free and unencumbered software released into the public domain",
         _fixed("Unlicense")),
        (r"creative commons (legal code )?cc0|cc0 1\.0 universal", _fixed("CC0-1.0")),
        (r"do what the fuck you want to public license", _fixed("WTFPL")),
        (r"this software is provided as is without any express or implied warranty"
         r"(?=.{0,800}altered source versions must be plainly marked)", _fixed("Zlib")),
        (r"permission to use copy modify and (or )?distribute this software for any purpose "
         r"with or without fee is hereby granted( provided that the above copyright notice)?",
         _isc),
        (r"ncsa open source license", _fixed("NCSA")),
        (r"permission to use copy modify and distribute this software and its documentation "
         r"for any purpose and without fee is hereby granted", _fixed("HPND")),
        (r"permission is hereby granted free of charge to any person obtaining a copy", _mit),
        (r"(released|licensed|distributed|available) under the (terms of the )?mit licen[cs]e",
         _fixed("MIT")),
        (r"redistribution and use in source and binary forms", _bsd),
    ))


def detect_license(text: str) -> str | None:
    """The SPDX id of the license a license file states, or None when unrecognised.

    Args:
        text: the file's text (only its first 200,000 characters are read).

    Returns:
        One of ``MIT``, ``MIT-0``, ``Apache-2.0``, ``BSD-2-Clause``, ``BSD-3-Clause``,
        ``BSD-4-Clause``, ``ISC``, ``0BSD``, ``Unlicense``, ``CC0-1.0``, ``Zlib``,
        ``BSL-1.0``, ``MPL-2.0``, ``EPL-1.0``, ``EPL-2.0``, ``LGPL-2.0``, ``LGPL-2.1``,
        ``LGPL-3.0``, ``GPL-1.0``, ``GPL-2.0``, ``GPL-3.0``, ``AGPL-3.0``, ``PSF-2.0``,
        ``NCSA``, ``HPND`` (the historical permission notice, MIT-CMU's family) or
        ``WTFPL``: whichever the text states first.
    """
    flat = _flat(text)
    found: list[tuple[int, str]] = []
    for pattern, resolve in _RULES:
        for match in pattern.finditer(flat):
            spdx = resolve(match, flat)
            if spdx:
                found.append((match.start(), spdx))
                break
    return min(found)[1] if found else None


# ---------------------------------------------------------------------- permissiveness

def _key(name: str) -> str:
    """A spelling of a license name reduced to its telling letters and digits:
    ``Apache License, Version 2.0`` and ``apache-2.0`` both become ``apache20``."""
    words = re.findall(r"[a-z0-9]+", name.lower().replace("+", " ").replace(".0", "0"))
    return "".join(w for w in words if w not in _FILLER)


_BY_KEY = {_key(spdx): spdx for spdx in (*PERMISSIVE, *_SPELLINGS)}
_BY_KEY.update({_key(spelling): spdx for spdx, spellings in _SPELLINGS.items()
                for spelling in spellings})


def normalize_license(name: str) -> str | None:
    """The SPDX id for a license as dumps and package metadata spell it (``Apache 2.0``,
    ``The MIT License (MIT)``, ``BSD 3-Clause``), or None when it is not known here."""
    for candidate in (name, re.sub(r"\([^)]*\)", " ", name)):
        spdx = _BY_KEY.get(_key(candidate))
        if spdx:
            return spdx
    return None


def _permissive_name(name: str) -> bool:
    spdx = normalize_license(name)
    if spdx:
        return spdx in PERMISSIVE or spdx.startswith("BSD-")
    key = _key(name)
    return key.startswith("bsd") and "nuclear" not in key  # "BSD", "BSD-3-Clause-Clear"...


def is_permissive(expression: str) -> bool:
    """True when a license expression lets the code be used permissively.

    Args:
        expression: an SPDX expression (``MIT OR Apache-2.0``, ``(MIT AND BSD-2-Clause)``,
            ``Apache-2.0 WITH LLVM-exception``), The Stack's licenses joined by ``AND``,
            Cargo's ``MIT/Apache-2.0`` (``/`` is ``OR``), or one license name in any common
            spelling. Operators are case-insensitive.

    Returns:
        For ``OR``, whether any branch is permissive; for ``AND``, whether all are; for a
        single name, whether it is a known permissive license. Empty, unknown or
        unparsable expressions are not permissive.
    """
    if not expression.strip() or expression.count("(") > _MAX_PARENS:
        return False
    tokens = re.findall(r"\(|\)|[^\s()]+",
                        expression.replace("/", " OR ").replace(";", " AND "))
    try:
        value, rest = _or(tokens)
        if not rest:
            return value
    except (IndexError, ValueError):
        pass
    # Not an expression: perhaps one name with a parenthesis, "The MIT License (MIT)".
    if any(t.upper() in ("AND", "OR", "WITH") for t in tokens) or not _balanced(tokens):
        return False
    return _permissive_name(expression)


def license_tier(expression: str) -> int:
    """The dedup keep-rank's tier of a license expression (``dedup.rank``): permissive,
    another license, or none (empty)."""
    if is_permissive(expression):
        return PERMISSIVE_TIER
    return OTHER_LICENSE_TIER if expression.strip() else NO_LICENSE_TIER


def _balanced(tokens: list[str]) -> bool:
    depth = 0
    for token in tokens:
        depth += {"(": 1, ")": -1}.get(token, 0)
        if depth < 0:
            return False
    return depth == 0


def _or(tokens: list[str]) -> tuple[bool, list[str]]:
    value, tokens = _and(tokens)
    while tokens and tokens[0].upper() == "OR":
        right, tokens = _and(tokens[1:])
        value = value or right
    return value, tokens


def _and(tokens: list[str]) -> tuple[bool, list[str]]:
    value, tokens = _atom(tokens)
    while tokens and tokens[0].upper() == "AND":
        right, tokens = _atom(tokens[1:])
        value = value and right
    return value, tokens


def _atom(tokens: list[str]) -> tuple[bool, list[str]]:
    """A parenthesised expression, or a license name (several words, then an optional
    ``WITH`` exception, which only adds permissions and so does not change the answer)."""
    if tokens[0] == "(":
        value, tokens = _or(tokens[1:])
        if not tokens or tokens[0] != ")":
            raise ValueError("unbalanced parentheses")
        return value, tokens[1:]
    words = []
    while tokens and tokens[0] not in ("(", ")") and tokens[0].upper() not in ("AND", "OR"):
        if tokens[0].upper() == "WITH":
            tokens = tokens[2:]
            break
        words.append(tokens[0])
        tokens = tokens[1:]
    if not words:
        raise ValueError("license name expected")
    return _permissive_name(" ".join(words)), tokens


# ------------------------------------------------------------------------------ in the build

def license_entry(record: Record,
                  specs: dict[str, ComponentSpec]) -> Iterator[tuple[tuple[str, str], str]]:
    """``((source, repo), spdx)`` when the record is a repository's root license file whose
    license is recognised (and its component detects licenses)."""
    if record.kind == "code" and specs[record.component].clean.detect_license:
        spdx = repo_license(record.path, record.text)
        if spdx:
            yield (record.source, record.repo), spdx


def combine_licenses(ids: Iterable[str]) -> str:
    """One expression for a repository with several license files (``LICENSE-MIT`` and
    ``LICENSE-APACHE`` mean a choice): the ids, sorted, joined by ``OR``."""
    return " OR ".join(sorted(set(ids)))


def with_repo_license(record: Record, licenses: dict[tuple[str, str], str],
                      specs: dict[str, ComponentSpec]) -> Record:
    """The record with its repository's license, unless it has one of its own."""
    if record.license or not specs[record.component].clean.detect_license:
        return record
    found = licenses.get((record.source, record.repo))
    return record.replace(license=found) if found else record


class GiveRepoLicenses(beam.PTransform):
    """Every document gets the license of its repository's root LICENSE/COPYING file.

    The licenses reach the documents as a side input of one entry per repository (not per
    document), keyed by (input, repository name).
    """

    def __init__(self, specs: dict[str, ComponentSpec]):
        super().__init__()
        self._specs = specs

    def expand(self, records):
        specs = self._specs
        licenses = (records
                    | "LicenseFiles" >> beam.FlatMap(license_entry, specs)
                    | "RepoLicense" >> beam.CombinePerKey(combine_licenses))
        return records | "GiveLicense" >> beam.Map(
            with_repo_license, beam.pvalue.AsDict(licenses), specs)
