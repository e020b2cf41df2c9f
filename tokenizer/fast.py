"""Convert a byte-level BPE ``tokenizers`` Tokenizer into an equivalent ``tiktoken`` Encoding.

Algorithm: a byte-level BPE is fully described by its split regex, its byte-to-symbol
alphabet (GPT-2's ``bytes_to_unicode``) and its merges. ``tiktoken`` takes the same split
regex and a table ``token bytes -> rank`` and, inside each piece, repeatedly merges the
adjacent pair whose concatenation has the lowest rank. ``tokenizers`` merges the pair that
comes first in its merge list. When a token's id grows with the position of the merge that
made it (true of anything ``tokenizer.train`` writes: specials, then the 256 bytes, then one
id per merge in order), ranks = ids gives both libraries the same choice at every step.

Trade-off: the two are not equal by construction in every corner. ``tiktoken`` returns a
whole piece as one token when the piece is in the table, where ``tokenizers`` may stop short
of it (unless the BPE sets ``ignore_merges``, as ``tokenizer.train``'s do); and the regex
runs in ``fancy-regex`` instead of Oniguruma, whose Unicode tables can differ by version.
So a converted encoder is only trusted after it gave ids identical to ``tokenizers`` on a
sample (``first_difference``): real code plus the ``ADVERSARIAL_TEXTS``.
``tokenizer.encode`` does that once per tokenizer and process, and falls back otherwise.

Special-token strings stay text (see ``tokenizer.encode``): the Encoding gets no special
tokens at all and is only ever used through ``encode_ordinary``; ids of special tokens come
from code that inserts them by id, and decoding stays with ``tokenizers``.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sysconfig
from collections.abc import Sequence
from typing import Any

import tiktoken
from tokenizers import Tokenizer

from tokenizer.special_tokens import SPECIAL_TOKENS

GPT2_SPLIT_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"
                      r"|\s+(?!\S)|\s+")
"""The split regex of ``pre_tokenizers.ByteLevel(use_regex=True)`` (GPT-2's), for tokenizers
brought by users that split with the byte-level pre-tokeniser itself."""


class NotConvertible(ValueError):
    """A tokenizer whose encoding ``tiktoken`` cannot reproduce; the message says why."""


def byte_alphabet() -> dict[str, int]:
    """GPT-2's byte-level alphabet: the printable symbol that stands for each byte.

    Bytes that are printable Latin-1 characters stand for themselves; the other 68 (controls,
    space, ``0x7f``-``0xa0``, soft hyphen) take ``chr(256)``, ``chr(257)``, ... in byte order.

    Returns:
        Symbol to byte value, 256 entries.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    symbols = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            symbols[chr(256 + extra)] = b
            extra += 1
    return symbols


def _split_pattern(pre: dict[str, Any] | None) -> str:
    """The one regex that cuts text into pieces, from a ``pre_tokenizer`` JSON object."""
    if pre is None:
        raise NotConvertible("no pre-tokenizer: not a byte-level BPE")
    if pre["type"] == "ByteLevel":
        if pre.get("add_prefix_space"):
            raise NotConvertible("ByteLevel pre-tokenizer adds a prefix space")
        if not pre.get("use_regex", True):
            raise NotConvertible("ByteLevel pre-tokenizer without a split regex")
        return GPT2_SPLIT_PATTERN
    steps = pre.get("pretokenizers", []) if pre["type"] == "Sequence" else [pre]
    kinds = [step["type"] for step in steps]
    if kinds != ["Split", "ByteLevel"]:
        raise NotConvertible(f"pre-tokenizer is {'+'.join(kinds) or pre['type']}, "
                             "not Split+ByteLevel or ByteLevel")
    split, byte_level = steps
    if "Regex" not in split["pattern"]:
        raise NotConvertible("Split pre-tokenizer has a string pattern, not a regex")
    if split["behavior"] != "Isolated" or split.get("invert"):
        raise NotConvertible(f"Split pre-tokenizer behaviour is {split['behavior']}"
                             f"{' inverted' if split.get('invert') else ''}, not Isolated")
    if byte_level.get("add_prefix_space") or byte_level.get("use_regex", True):
        raise NotConvertible("ByteLevel after Split adds a prefix space or splits again")
    return split["pattern"]["Regex"]


def _merges(model: dict[str, Any]) -> list[tuple[str, str]]:
    """Merge pairs in order; ``tokenizers`` writes ``[a, b]`` now and ``"a b"`` formerly."""
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]


def _ranks(model: dict[str, Any], special: set[str]) -> dict[bytes, int]:
    """``tiktoken``'s mergeable ranks (token bytes -> id) from a byte-level BPE model."""
    if model.get("dropout"):
        raise NotConvertible("BPE dropout is set")
    for key in ("continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            raise NotConvertible(f"BPE {key} is set")
    alphabet = byte_alphabet()
    ranks: dict[bytes, int] = {}
    for symbols, token_id in model["vocab"].items():
        if symbols in special:
            continue  # never produced from text: the split regex cuts every one of them
        try:
            ranks[bytes(alphabet[s] for s in symbols)] = token_id
        except KeyError:
            raise NotConvertible(f"vocabulary token {symbols!r} is not byte-level") from None
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise NotConvertible(f"byte 0x{missing[0]:02x} has no token ({len(missing)} missing)")
    made, last = set(), -1
    for i, (a, b) in enumerate(_merges(model)):
        merged = a + b
        token_id = model["vocab"].get(merged)
        if token_id is None:
            raise NotConvertible(f"merge {i} ({a!r}, {b!r}) makes no vocabulary token")
        if token_id <= last and merged not in made:
            raise NotConvertible(f"merge {i} ({a!r}, {b!r}) has id {token_id}, not above the "
                                 "previous merge's: ids do not follow merge order")
        made.add(merged)
        last = max(last, token_id)
    unmade = [s for s in model["vocab"] if len(s) > 1 and s not in made and s not in special]
    if unmade:
        raise NotConvertible(f"vocabulary token {unmade[0]!r} is no merge's result")
    return ranks


def to_tiktoken(tok: Tokenizer) -> tiktoken.Encoding:
    """Build the ``tiktoken`` Encoding that should encode text exactly as ``tok`` does.

    Only the tokenizer's own vocabulary is used: nothing is downloaded, and no OpenAI
    encoding is involved. Whether the result really is exact is for ``first_difference``.

    Args:
        tok: a byte-level BPE, e.g. from ``tokenizer.train`` or a user's ``tokenizer.json``.

    Returns:
        An Encoding with the same split regex and ranks = ids, and no special tokens; use it
        only through ``encode_ordinary``.

    Raises:
        NotConvertible: naming the first thing about ``tok`` that tiktoken cannot reproduce
            (a normalizer, a non-BPE model, another pre-tokenizer, added non-special tokens,
            padding or truncation, a non-byte-level vocabulary, ids out of merge order).
    """
    text = tok.to_str()
    data = json.loads(text)
    if data["model"]["type"] != "BPE":
        raise NotConvertible(f"model is {data['model']['type']}, not BPE")
    for key in ("truncation", "padding"):
        if data.get(key):
            raise NotConvertible(f"{key} is set")
    if data.get("normalizer"):
        raise NotConvertible(f"has a normalizer ({data['normalizer']['type']})")
    added = data.get("added_tokens", [])
    plain = [t["content"] for t in added if not t["special"]]
    if plain:
        # tokenizers cuts these out of the text before BPE, even with encode_special_tokens.
        raise NotConvertible(f"added token {plain[0]!r} is not special, so it is matched in text")
    pattern = _split_pattern(data.get("pre_tokenizer"))
    ranks = _ranks(data["model"], {t["content"] for t in added})
    name = "codemix-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    try:
        return tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    except Exception as err:  # tiktoken raises ValueError from Rust for a pattern it rejects
        raise NotConvertible(f"tiktoken rejects the split regex: {err}") from err


def first_difference(tok: Tokenizer, enc: tiktoken.Encoding,
                     texts: Sequence[str]) -> str | None:
    """Where ``enc`` and ``tok`` first give different ids, or None if they agree on all texts.

    Args:
        tok: the reference; encoded with special-token strings as text, no specials added.
        enc: its conversion by ``to_tiktoken``.
        texts: what to compare on, e.g. ``ADVERSARIAL_TEXTS`` plus ``reference_texts()``.

    Returns:
        None, or one line naming the text (index and start) and the first differing token.
    """
    tok.encode_special_tokens = True
    expected = tok.encode_batch_fast(list(texts), add_special_tokens=False)
    for i, (text, want) in enumerate(zip(texts, expected)):
        got = enc.encode_ordinary(text)
        if got != want.ids:
            at = next((j for j, (a, b) in enumerate(zip(got, want.ids)) if a != b),
                      min(len(got), len(want.ids)))
            return (f"tiktoken differs from tokenizers on sample text {i} ({text[:30]!r}) at "
                    f"token {at}: {got[at:at + 3]} vs {want.ids[at:at + 3]}")
    return None


ADVERSARIAL_TEXTS: tuple[str, ...] = (
    "",
    " ",
    "\n",
    *(f"x = '{t}'\n{t}{t} {t}\n" for t in SPECIAL_TOKENS),
    "<|endoftext|><|pad|><sep><eom><fim_prefix><fim_middle><fim_suffix><fim_pad>",
    " " * 1000 + "x" + "\t" * 300 + "\n" * 50 + " \t \n\t" * 100,
    "    \n        \n\t\t\n   x\n\n\n  ",
    "windows\r\nline\r\nendings\r\n\r\n    and a lone\rcarriage return\r\r\n",
    "trailing spaces   \n   \n   ",
    "digits: 0 12 345 6789 1234567890 3.14159e-10 0x1F 1_000_000 ١٢٣٤٥ ૧૨૩ ⅔ ² ①",
    "x" * 5000 + " " * 300 + "1" * 1000 + "é" * 700,
    "unicode: café naïve Ünïcödé 東京 日本語 Ελληνικά עברית العربية ẞ ǅ ﬁ Ǆ ᾈ",
    "combining: e\u0301 a\u030a n\u0303 \u0915\u094d\u0937 \u0301\u0301 x\u20dd",
    "emoji: 😀 👍🏽 👩‍👩‍👧‍👦 🇫🇷 ❤️ \U0001F9EA 🏳️‍🌈 x😀y",
    "controls: \x00 \x01 \x7f \x1b[31m \x0b\x0c \x1c\x1d\x1e\x1f end",
    "spaces: \u00a0\u1680\u2000\u2001\u200a\u2028\u2029\u202f\u205f\u3000\u0085\u180e"
    "\u200b\u200c\u200d\u2060\ufeff|\u00a0 x \u3000y",
    "private and rare: \ue000 \U000f0000 \U0010ffff \ufffd \U0001d400\U0001d7ce \U00020000",
    "int main(void) {\n\tprintf(\"%d\\n\", a[i++]);\n\treturn 0;\n}\n",
    "const f = (a, b) => a ?? b?.c;  // JS\n`${x}`; /re+g?/gi; x === y !== z;\n",
    "public static <T extends Comparable<? super T>> void sort(List<T> l) {}\n",
    "s = f\"{x!r:>10}\" + r'\\d+' + b'\\xff' # comment with 'quotes' and \"double\"\n",
    "'s 't 're 've 'm 'll 'd don't I'll we've  ''' \"\"\" ``` ''' \n",
    "<<<>>>!!!???...,,,;;;:::@@@###$$$%%%^^^&&&***((()))[[[]]]{{{}}}|||\\\\\\~~~___---+++===",
    " . .. ... .... \t. \n. _a __a ___init__ -x --flag",
)
"""Strings where tokenizers and tiktoken would most likely part ways: special-token strings,
long whitespace runs, every Unicode space, CRLF, digits in many scripts, combining marks,
emoji sequences, controls, astral planes, and code-like punctuation in several languages."""

REFERENCE_BYTES = 400_000
"""How much real code ``reference_texts`` reads by default: enough to meet most merges of a
51,200 vocabulary while keeping the check under a second per worker."""

_MAX_FILE_BYTES = 40_000


def reference_texts(budget: int = REFERENCE_BYTES) -> list[str]:
    """A deterministic sample of the running Python's standard library, for checking.

    Files are taken in the order of the SHA-256 of their path below the standard library
    root (so the same files on any machine with the same Python), skipping files over 40 KB
    and any that are not UTF-8, until ``budget`` bytes are read. Third-party packages
    (``site-packages``) are left out.

    Args:
        budget: bytes of source to read; 0 gives an empty list.

    Returns:
        The files' texts, newlines untouched; empty when the standard library is not on disk.
    """
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    paths = [p for p in root.rglob("*.py")
             if not {"site-packages", "dist-packages"} & set(p.relative_to(root).parts)]
    paths.sort(key=lambda p: hashlib.sha256(p.relative_to(root).as_posix().encode()).digest())
    texts: list[str] = []
    for path in paths:
        if budget <= 0:
            break
        try:
            data = path.read_bytes()
            if len(data) > _MAX_FILE_BYTES:
                continue
            texts.append(data.decode("utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        budget -= len(data)
    return texts
