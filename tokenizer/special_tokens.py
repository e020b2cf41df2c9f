"""Special tokens, defined once for the tokenizer, the shards and every training objective.

They take the first ids of every vocabulary, in the order of ``SPECIAL_TOKENS``, so a
tokenizer trained on any corpus gives them the same ids. The CodeGen2 infill format is
``prefix <mask_1> suffix <|endoftext|> <sep> <mask_1> middle <eom>``; FIM uses the
``<fim_*>`` tokens (StarCoder style); language tags mark a document's language.
"""

from __future__ import annotations

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

LANGUAGES = ("python", "c", "cpp", "java", "javascript", "typescript", "go", "rust", "ruby",
             "php", "shell", "text")
"""Languages that get a tag token; a language outside this list is simply untagged."""


def mask_token(i: int) -> str:
    """The i-th sentinel, 1-based as in CodeGen2: ``mask_token(1) == "<mask_1>"``."""
    if not 1 <= i <= NUM_MASKS:
        raise ValueError(f"mask index must be in [1, {NUM_MASKS}], got {i}")
    return f"<mask_{i}>"


def lang_tag(lang: str) -> str | None:
    """Tag token for a language, or None when it has none."""
    return f"<lang_{lang}>" if lang in LANGUAGES else None


SPECIAL_TOKENS: tuple[str, ...] = (
    ENDOFTEXT, PAD, SEP, EOM, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD,
    *(mask_token(i) for i in range(1, NUM_MASKS + 1)),
    *(f"<lang_{lang}>" for lang in LANGUAGES),
)
"""Every special token in id order: SPECIAL_TOKENS[i] has id i in every codemix vocabulary."""
