"""Special tokens, defined once for the tokenizer, the shards and every training objective.

A tokenizer trained by codemix gives them the first ids of its vocabulary, in the order of
``SPECIAL_TOKENS``. A tokenizer brought by the user (``tokenizer.path`` in the build config)
has them wherever it has them, under its own names where the config maps them, or lacks
some; so nothing downstream assumes an id. ``SpecialIds`` is the one place that holds a
tokenizer's special ids: the build records the mapping token -> id in the manifest, and the
trainer, the objectives, packing, attention and generation all read ids from a
``SpecialIds`` built from it (``SpecialIds.default()`` is the codemix layout).

The CodeGen2 infill format is ``prefix <mask_1> suffix <|endoftext|> <sep> <mask_1> middle
<eom>``; FIM uses the ``<fim_*>`` tokens (StarCoder style). There are no language tags:
nothing would insert them, and a token no document holds is a vocabulary entry that never
trains. ``<|endoftext|>`` ends every document (the packer puts its id after each one) and
is the only token every corpus needs; the others are needed by the parts that insert them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping

ENDOFTEXT = "<|endoftext|>"
PAD = "<|pad|>"
SEP = "<sep>"
EOM = "<eom>"
FIM_PREFIX = "<fim_prefix>"
FIM_MIDDLE = "<fim_middle>"
FIM_SUFFIX = "<fim_suffix>"
FIM_PAD = "<fim_pad>"

NUM_MASKS = 32
"""Sentinel count for span corruption: <mask_1>..<mask_32> (CodeGen2 uses up to this many)."""

def mask_token(i: int) -> str:
    """The i-th sentinel, 1-based as in CodeGen2: ``mask_token(1) == "<mask_1>"``."""
    if not 1 <= i <= NUM_MASKS:
        raise ValueError(f"mask index must be in [1, {NUM_MASKS}], got {i}")
    return f"<mask_{i}>"


MASKS: tuple[str, ...] = tuple(mask_token(i) for i in range(1, NUM_MASKS + 1))
"""``<mask_1>`` .. ``<mask_32>``, in order."""

SPECIAL_TOKENS: tuple[str, ...] = (
    ENDOFTEXT, PAD, SEP, EOM, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD, *MASKS,
)
"""Every special token, in the order a codemix-trained vocabulary gives them ids 0, 1, ..."""

_ROLES = {ENDOFTEXT: "eot", PAD: "pad", SEP: "sep", EOM: "eom", FIM_PREFIX: "fim_prefix",
          FIM_MIDDLE: "fim_middle", FIM_SUFFIX: "fim_suffix", FIM_PAD: "fim_pad"}
"""Special token -> the ``SpecialIds`` field holding its id (masks aside)."""


@dataclasses.dataclass(frozen=True)
class SpecialIds:
    """The ids of one tokenizer's special tokens; None where the tokenizer has none.

    Build it with ``from_mapping`` from the manifest's ``tokenizer.special_tokens`` (or
    ``tokenizer.load.special_ids`` of a tokenizer), or take ``default()``, the layout of a
    tokenizer trained by codemix. Which parts need which ids: packing and document masking
    need ``eot`` (always present); document masking and ``codegen2`` need ``sep``;
    ``codegen2`` and infilling need ``eom`` and the masks; ``fim`` needs the four FIM ids.
    ``pad`` is optional: targets equal to it take no loss when there is one.

    Attributes:
        eot: ``<|endoftext|>``, which ends every document.
        pad: ``<|pad|>``.
        sep: ``<sep>``, which opens a document's infill section (and splits pairs).
        eom: ``<eom>``, which ends each infilled span.
        masks: ids of ``<mask_1>``, ``<mask_2>``, ... for as many as the tokenizer has in
            an unbroken run from ``<mask_1>`` (empty when it has none).
        fim_prefix: ``<fim_prefix>``.
        fim_middle: ``<fim_middle>``.
        fim_suffix: ``<fim_suffix>``.
        fim_pad: ``<fim_pad>``, which fills a FIM sequence that came out short.
    """

    eot: int
    pad: int | None = None
    sep: int | None = None
    eom: int | None = None
    masks: tuple[int, ...] = ()
    fim_prefix: int | None = None
    fim_middle: int | None = None
    fim_suffix: int | None = None
    fim_pad: int | None = None

    @classmethod
    def from_mapping(cls, ids: Mapping[str, int]) -> SpecialIds:
        """The ids of a mapping special token -> id, e.g. a manifest's ``special_tokens``.

        Tokens that are not codemix special tokens are ignored.

        Raises:
            ValueError: ``ids`` has no ``<|endoftext|>``.
        """
        if ENDOFTEXT not in ids:
            raise ValueError(f"no {ENDOFTEXT} among the special tokens")
        masks = []
        for token in MASKS:
            if token not in ids:
                break
            masks.append(int(ids[token]))
        return cls(masks=tuple(masks),
                   **{role: None if token not in ids else int(ids[token])
                      for token, role in _ROLES.items()})

    @classmethod
    @functools.cache
    def default(cls) -> SpecialIds:
        """The codemix layout: ``SPECIAL_TOKENS[i]`` has id ``i``."""
        return cls.from_mapping(default_ids())

    def id(self, token: str) -> int | None:
        """The id of special token ``token``, or None when the tokenizer lacks it."""
        if token in _ROLES:
            return getattr(self, _ROLES[token])
        if token in MASKS:
            k = MASKS.index(token)
            return self.masks[k] if k < len(self.masks) else None
        raise ValueError(f"{token!r} is not a codemix special token with a role")

    def missing(self, tokens: Iterable[str]) -> list[str]:
        """Those of ``tokens`` the tokenizer lacks, in the order given."""
        return [t for t in tokens if self.id(t) is None]


def default_ids() -> dict[str, int]:
    """Special token -> id in a vocabulary trained by codemix (``SPECIAL_TOKENS`` order)."""
    return {token: i for i, token in enumerate(SPECIAL_TOKENS)}


def listing(tokens: Iterable[str]) -> str:
    """Tokens for a one-line message, runs of masks shortened: ``<sep>, <mask_1>..<mask_32>``."""
    parts: list[list[str]] = []
    for token in tokens:
        previous = parts[-1][-1] if parts else None
        if (token in MASKS and previous in MASKS
                and MASKS.index(token) == MASKS.index(previous) + 1):
            parts[-1].append(token)
        else:
            parts.append([token])
    return ", ".join(p[0] if len(p) == 1 else f"{p[0]}..{p[-1]}" for p in parts)
