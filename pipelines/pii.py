"""PII and secret redaction: emails, public IP addresses, keys and tokens, passwords.

Each kind is a short list of rules. A rule is a compiled regex whose named group ``secret``
is replaced by the kind's placeholder (the rest of the match is context that stays, so
``api_key = "..."`` keeps its name), a cheap hint regex without which the full one is not
run at all (most documents hold no ``AKIA``, ``ghp_`` or ``://``, so most rules cost one
literal search), and, where a regex cannot decide, a check on the match: IP validity and
scope with ``ipaddress``, Shannon entropy for generic secrets, literal-ness for passwords.
Names (``PASSWORD``, ``apiKey``) are matched in the lower-cased text. On the Python
standard library (19 MB) this runs at about 30 MB/s on one core.

Rules run in a fixed order, each on the output of the one before: private-key blocks
first (a block holds strings that look like other things), then token formats with a
fixed prefix, then assigned passwords and secrets, then emails and IP addresses. No rule
matches a ``<`` where the secret would be, so a placeholder is never redacted again and
``redact`` is idempotent.

The trade-off is precision on look-alikes that fill code, at some cost in recall:

* ``email``: the domain needs a dot and a TLD of letters that is a country code or a
  common generic TLD, so ``a@b.c`` and ``x@w.shape`` (matrix products) are not emails and
  ``@property`` has no local part. Kept: ``user@localhost`` (no TLD), the reserved
  ``example.com``/``.org``/``.net`` (nobody's address) and ``git@host`` (an SSH remote).
* ``ip_address``: only globally routable unicast addresses; private, loopback,
  link-local, documentation, reserved, multicast, ``0.0.0.0``, masks like
  ``255.255.255.0`` and a few well-known addresses that identify no one (``1.2.3.4``,
  public DNS resolvers such as ``8.8.8.8``) are kept. A dotted quad next to a word character or inside a longer
  dotted run (``v1.2.3.4``, ``1.2.3.4.5``), or after ``version``, ``release``,
  ``section``, ``rfc`` or ``§`` on its line or the line before, is a version or section
  number. Version numbers without such a word (a bare ``3.1.1.6`` in a docstring) are
  redacted: 3 of the standard library's 1,790 modules have one.
* ``key``: known token formats by prefix and length (AWS, GitHub, Slack, Google, Stripe,
  OpenAI, JWT), PEM private-key blocks whole, and any other value assigned to a name
  like ``api_key``/``secret``/``token`` when it looks random (letters and digits, not
  snake-case words, entropy >= 3 bits per character). Commit hashes, digests, UUIDs and
  base64 data assigned to other names are left alone.
* ``password``: any literal assigned to a name ending in ``password``/``passwd``/
  ``passphrase``/``pwd``, placeholders like ``changeme`` included (telling fake from
  real would keep the real ones that look fake), and the password of a URL's
  ``user:password@``. Not literals, so kept: names, calls and lookups
  (``os.environ["PASSWORD"]``, ``getpass()``), ``None``/``null``, type hints, templates
  (``${DB_PASS}``, ``{{ pw }}``, ``%(password)s``, ``<PASSWORD>``), masks (``****``) and
  paths. An unquoted ``password = value`` whose value is a plain identifier is a variable
  in code, so an INI line ``password = hunter2`` is missed; ``PASSWORD=hunter2`` (env
  files) and ``password: hunter2`` (YAML) are caught.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
import string
from collections import Counter
from collections.abc import Callable

import apache_beam as beam

from pipelines.config import BuildConfig, ComponentSpec
from pipelines.records import Record
from pipelines.timing import Timed

PLACEHOLDERS = {"email": "<EMAIL>", "ip_address": "<IP_ADDRESS>", "key": "<KEY>",
                "password": "<PASSWORD>"}
"""Kind -> the text that replaces each of its matches."""


@dataclasses.dataclass(frozen=True)
class _Rule:
    """One way a kind shows up in text.

    Attributes:
        kind: a key of ``PLACEHOLDERS``.
        pattern: the regex; its group ``secret`` is what gets replaced.
        hint: a cheap regex (most often literals) that every match contains; ``pattern``
            runs only on documents where it is found. None runs it always.
        fold: match ``pattern`` and ``hint`` against the lower-cased text, for names
            written in any case (``PASSWORD``, ``apiKey``); the secret is still read from
            the original text.
        check: ``check(match, text)`` decides a match the regex alone cannot, reading the
            original ``text`` at the match's positions; None accepts every match.
    """

    kind: str
    pattern: re.Pattern[str]
    hint: re.Pattern[str] | None = None
    fold: bool = False
    check: Callable[[re.Match[str], str], bool] | None = None


# --- checks -------------------------------------------------------------------------------

_WORDY = re.compile(r"[a-z]+(?:[_.\-][a-z]+)*[_.\-]?[0-9]{0,4}", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_CAMEL_TYPE = re.compile(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+")
_NAME_PREFIX = re.compile(r"[ \t]*(?:export[ \t]+)?[\w.-]*")
_NOT_LITERALS = frozenset({"none", "null", "nil", "true", "false", "undefined", "str",
                           "string", "bytes", "int", "any", "optional", "required"})
_TEMPLATE_STARTS = ("$", "{", "<", "%")
# Unquoted, these start YAML syntax (tags, anchors, block scalars), code or a path.
_SYNTAX_STARTS = tuple("[(@*&!|>/~")
_GENERIC_TLDS = frozenset(
    "com org net edu gov mil int info biz name pro aero coop mobi asia jobs tel travel "
    "app dev io ai xyz tech online site store shop cloud email digital systems software "
    "solutions agency studio design network academy blog news media live life world "
    "team group company services global space website club page".split())
_EXAMPLE_DOMAIN = re.compile(r"(?:.*\.)?example\.(?:com|org|net)", re.IGNORECASE)
_NOT_NUMBERS = ("version", "release", "section", "rfc", "§")
"""A dotted quad after one of these words, on its line or the line before, is a version
or section number."""


def _secret(m: re.Match[str], text: str) -> str:
    return text[m.start("secret"):m.end("secret")]


def _line_before(m: re.Match[str], text: str, lines: int = 1) -> str:
    """The text before the match on its line, and on ``lines - 1`` lines before that."""
    start = m.start()
    for _ in range(lines):
        start = text.rfind("\n", 0, start)
        if start < 0:
            break
    return text[start + 1:m.start()]


def _entropy(value: str) -> float:
    """Shannon entropy of the characters of ``value``, in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _looks_random(value: str) -> bool:
    """True for a value that reads like a generated secret: letters and digits mixed, not
    words joined by ``_``/``-``/``.``, at least 3 bits of entropy per character."""
    return (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
            and not _WORDY.fullmatch(value) and _entropy(value) >= 3.0)


def _is_literal(value: str) -> bool:
    """False for a value that is blank, a template or placeholder, or a mask."""
    return (bool(value.strip()) and not value.startswith(_TEMPLATE_STARTS)
            and len(set(value)) > 1)


def _check_literal(m: re.Match[str], text: str) -> bool:
    return _is_literal(_secret(m, text))


def _check_generic_secret(m: re.Match[str], text: str) -> bool:
    return _looks_random(_secret(m, text))


def _check_openai(m: re.Match[str], text: str) -> bool:
    body = m["body"]
    return (any(c.isdigit() for c in body) and any(c.isupper() for c in body)
            and any(c.islower() for c in body))


def _check_line_password(m: re.Match[str], text: str) -> bool:
    """An unquoted value on a ``name = value`` line: a literal only when it is not code."""
    value = _secret(m, text)
    if (not _NAME_PREFIX.fullmatch(_line_before(m, text)) or not _is_literal(value)
            or value.startswith(_SYNTAX_STARTS) or value.lower() in _NOT_LITERALS
            or any(c in value for c in "()[]") or value.endswith((",", ";"))):
        return False
    sep = m["sep"]
    if "=" in sep and sep != "=" and _IDENTIFIER.fullmatch(value):
        return False  # ``password = other_name``: a variable, not a value
    if ":" in sep and _CAMEL_TYPE.fullmatch(value):
        return False  # ``password: SecretStr``: a type hint
    return True


def _check_email(m: re.Match[str], text: str) -> bool:
    local, domain = m["secret"].split("@", 1)
    tld = m["tld"].lower()
    return ((len(tld) == 2 or tld in _GENERIC_TLDS) and local.lower() != "git"
            and not _EXAMPLE_DOMAIN.fullmatch(domain))


_WELL_KNOWN_IPS = frozenset({
    "1.2.3.4",                                   # the canonical example address
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1",  # public DNS resolvers (Google, Cloudflare)
    "9.9.9.9", "149.112.112.112",                # Quad9
    "208.67.222.222", "208.67.220.220",          # OpenDNS
    "2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111",
})
"""Public addresses that identify no one: placeholders and famous resolvers, which code
uses as constants (tests, network defaults); redacting them only breaks the code."""


def _is_public(address: str) -> bool:
    """True for a valid, globally routable unicast IPv4 or IPv6 address that is not one of
    the well-known ones."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.compressed in _WELL_KNOWN_IPS:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved
                                 or getattr(ip, "is_site_local", False))


def _check_ipv4(m: re.Match[str], text: str) -> bool:
    before = _line_before(m, text, lines=2).lower()
    return _is_public(m["secret"]) and not any(word in before for word in _NOT_NUMBERS)


def _check_ipv6(m: re.Match[str], text: str) -> bool:
    return any(c.isdigit() for c in m["secret"]) and _is_public(m["secret"])


# --- rules, in the order they run ---------------------------------------------------------

# Names are matched in lower-cased text (see ``_fold``), so they are written lower-case.
_KEY_NAME = (r"(?:api[_-]?key|secret|token|access[_-]?key|auth[_-]?key|private[_-]?key"
             r"|credentials?)")
_PASSWORD_NAME = r"(?:password|passwd|passphrase|pwd)[0-9]*(?![\w.-])"
# Between a name and its value: maybe a closing quote or bracket (``"key": v``,
# ``cfg["key"] = v``), then ``=``, ``:``, ``:=`` or ``=>``.
_ASSIGN = r"[\"']?\]?\s*(?::=|=>|[:=])\s*"

_RULES: tuple[_Rule, ...] = (
    # A whole PEM private key, also as a string literal with ``\n`` escapes. It must hold
    # base64 near its header, so code naming the BEGIN/END lines is left alone; a key cut
    # off before its END line is redacted up to where the base64 stops.
    _Rule("key", re.compile(
        r"(?P<secret>-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----"
        r"(?=[\s\S]{0,200}?[A-Za-z0-9+/]{32})"
        r"[A-Za-z0-9+/=\s\\\"',:.-]*?"
        r"(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|(?![A-Za-z0-9+/=\s\\\"',:.-])))"),
        hint=re.compile("PRIVATE KEY-----")),
    _Rule("key", re.compile(
        r"(?<![A-Za-z0-9+/])(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Za-z0-9+/])"),
        hint=re.compile("AKIA|ASIA|ABIA|ACCA")),
    _Rule("key", re.compile(
        r"(?<![A-Za-z0-9_])(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251}"
        r"|github_pat_[A-Za-z0-9_]{22,244})(?![A-Za-z0-9_])"),
        hint=re.compile("gh[pousr]_|github_pat_")),
    _Rule("key", re.compile(
        r"(?<![A-Za-z0-9-])(?P<secret>xox[abpors]-[0-9]+-[A-Za-z0-9-]{8,250})(?![A-Za-z0-9-])"),
        hint=re.compile("xox")),
    _Rule("key", re.compile(
        r"hooks\.slack\.com/services/(?P<secret>T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,})"),
        hint=re.compile(r"hooks\.slack\.com")),
    _Rule("key", re.compile(
        r"(?<![A-Za-z0-9_-])(?P<secret>AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])"),
        hint=re.compile("AIza")),
    _Rule("key", re.compile(
        r"(?<![A-Za-z0-9_])(?P<secret>[sr]k_(?:live|test)_[0-9A-Za-z]{20,247})(?![0-9A-Za-z])"),
        hint=re.compile("k_(?:live|test)_")),
    _Rule("key", re.compile(
        r"(?<![A-Za-z0-9_-])(?P<secret>sk-(?:proj-|svcacct-|admin-)?"
        r"(?P<body>[A-Za-z0-9_-]{32,300}))(?![A-Za-z0-9_-])"),
        hint=re.compile("sk-"), check=_check_openai),
    _Rule("key", re.compile(
        r"(?<![A-Za-z0-9_-])(?P<secret>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"
        r"\.[A-Za-z0-9_-]{16,})(?![A-Za-z0-9_-])"),
        hint=re.compile("eyJ")),
    # ``scheme://user:password@host`` (an unescaped ``#`` in the password is common)
    _Rule("password", re.compile(
        r"://[^\s:/?#@<>\"']{1,256}:(?P<secret>[^\s:/?@<>\"']{1,256})@"),
        hint=re.compile("://"), check=_check_literal),
    # ``password = "..."``, ``"password": "..."``, ``password: str = "..."``, ``'pwd' => '...'``
    _Rule("password", re.compile(
        _PASSWORD_NAME + r"[\"']?\]?\s*(?::\s*[a-z_][\w.\[\], |]*?\s*(?==))?(?::=|=>|[:=])\s*"
        r"(?P<q>[\"'`])(?P<secret>(?:(?!(?P=q))[^\n]){1,256})(?P=q)"),
        hint=re.compile("pass|pwd"), fold=True, check=_check_literal),
    # Unquoted, alone on a line: ``PASSWORD=...`` (env), ``password: ...`` (YAML).
    _Rule("password", re.compile(
        _PASSWORD_NAME + r"(?P<sep>[ \t]*[:=][ \t]*)(?P<secret>[^\s\"'`#]+)[ \t]*(?:#.*)?$",
        re.MULTILINE),
        hint=re.compile("pass|pwd"), fold=True, check=_check_line_password),
    # Any other secret-looking value assigned to a secret-sounding name.
    _Rule("key", re.compile(
        _KEY_NAME + r"(?![a-z])[\w.-]*" + _ASSIGN
        + r"(?P<q>[\"'`]?)(?P<secret>[a-z0-9+/=_.~-]{16,512})(?P=q)(?![\w(\[.+/=~-])"),
        hint=re.compile("key|secret|token|credential"), fold=True, check=_check_generic_secret),
    # The first character and a look-behind come before anything else so that the regex
    # engine skips most positions with one character-class test.
    _Rule("email", re.compile(
        r"(?P<secret>[A-Za-z0-9](?<![\w.%+-][A-Za-z0-9])[\w.%+-]{0,63}"
        r"@(?:[A-Za-z0-9-]{1,63}\.)+(?P<tld>[A-Za-z]{2,24}))(?![\w-]|\.[A-Za-z0-9])"),
        hint=re.compile(r"@(?<=[\w.%+-]@)[A-Za-z0-9-]+\.[A-Za-z]"), check=_check_email),
    _Rule("ip_address", re.compile(
        r"(?P<secret>[0-9](?<![\w.][0-9])[0-9]{0,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})"
        r"(?!\w|\.\w)"),
        check=_check_ipv4),
    _Rule("ip_address", re.compile(
        r"(?P<secret>[0-9A-Fa-f](?<![\w:.][0-9A-Fa-f])[0-9A-Fa-f]{0,3}(?::[0-9A-Fa-f]{0,4}){2,7}"
        r"|:(?<![\w:.]:)[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,6})(?![\w:.])"),
        hint=re.compile(r"::|:[0-9A-Fa-f]{1,4}:"), check=_check_ipv6),
)


def _fold(text: str) -> str:
    """Lower-cased ``text`` with every character at its original position: ``str.lower``
    unless it changes the length (as for ``İ``), then ASCII letters only."""
    folded = text.lower()
    return folded if len(folded) == len(text) else text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def redact(text: str, kinds: tuple[str, ...]) -> tuple[str, dict[str, int]]:
    """Replace the PII and secrets of the given kinds by placeholders.

    Args:
        text: a document.
        kinds: which kinds to redact, each a key of ``PLACEHOLDERS``.

    Returns:
        The redacted text, and the number of replacements per kind (kinds with none are
        left out). Redacting the result again changes nothing.

    Raises:
        ValueError: for a kind that is not a key of ``PLACEHOLDERS``.
    """
    unknown = sorted(set(kinds) - set(PLACEHOLDERS))
    if unknown:
        raise ValueError(f"unknown PII kind {unknown[0]!r}; known: {', '.join(PLACEHOLDERS)}")
    counts: dict[str, int] = {}
    folded: str | None = None
    for rule in _RULES:
        if rule.kind not in kinds:
            continue
        if rule.fold and folded is None:
            folded = _fold(text)
        haystack = folded if rule.fold else text
        if rule.hint is not None and not rule.hint.search(haystack):
            continue
        text, n = _apply(rule, text, haystack)
        if n:
            counts[rule.kind] = counts.get(rule.kind, 0) + n
            folded = None  # the text changed
    return text, counts


def _apply(rule: _Rule, text: str, haystack: str) -> tuple[str, int]:
    """``text`` with the ``secret`` span of every accepted match of ``rule`` in
    ``haystack`` (``text`` or its fold, same positions) replaced, and how many were."""
    parts, done = [], 0
    for m in rule.pattern.finditer(haystack):
        if rule.check is None or rule.check(m, text):
            start, end = m.span("secret")
            parts += (text[done:start], PLACEHOLDERS[rule.kind])
            done = end
    if not parts:
        return text, 0
    parts.append(text[done:])
    return "".join(parts), len(parts) // 2


# ------------------------------------------------------------------------------ in the build

def redact_record(record: Record, specs: dict[str, ComponentSpec]) -> Record:
    """The record with PII and secrets replaced by placeholders, each replacement counted
    in ``meta["edits"]`` by kind. Pairs are made later, from redacted code."""
    spec = specs[record.component].pii
    if not spec.enabled or record.kind == "pair":
        return record
    text, counts = redact(record.text, spec.kinds)
    if not counts:
        return record
    edits = dict(record.meta.get("edits", {}))
    for kind, n in counts.items():
        edits[kind] = edits.get(kind, 0) + n
    return record.replace(text=text, meta={**record.meta, "edits": edits})


class RedactRecords(beam.PTransform):
    """PII and secret redaction with each component's rules (nothing is dropped)."""

    def __init__(self, config: BuildConfig):
        super().__init__()
        self._specs = {comp.name: comp for comp in config.components}

    def expand(self, records):
        return records | "Redact" >> beam.Map(Timed("redact", redact_record), self._specs)
