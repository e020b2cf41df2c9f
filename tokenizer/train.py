"""Train the codemix byte-level BPE tokenizer with HF ``tokenizers``.

Algorithm: byte-level BPE (GPT-2 style: every byte is a base symbol, so any text encodes and
nothing is ever unknown) behind a code-aware split regex in the GPT-4 (``cl100k``) family.
The regex cuts text into pieces that merges never cross:

- a run of letters (and combining marks), with at most one leading space or symbol, so
  ``" return"``, ``".append"`` and ``"_name"`` can become single tokens;
- digits in groups of one to three, so numbers do not eat the vocabulary;
- a run of punctuation with at most one leading space (``" =="``, ``"):"``, ``"{"``);
- line breaks (with the trailing whitespace before them) separate from what follows, and
  whitespace up to the last space before a word, so indentation levels become tokens of
  their own instead of being glued to the first word of a line.

Unlike GPT-4 there are no English contraction rules (``'s``, ``'ll``): in code a quote is a
string delimiter, and gluing it to the string's first letters would make the delimiter's
tokenisation depend on the string's contents. Punctuation also does not swallow the newline
after it (GPT-4 does), which keeps ``"\\n"`` one token however a line ends.

Trade-off: a split regex loses a few merges that would cross its boundaries (``"):\\n"``), in
exchange for a vocabulary of meaningful pieces and a pattern that ``tiktoken`` can run, which
is what makes the fast encoding path of ``tokenizer.encode`` possible later.

Special tokens (``tokenizer.special_tokens``) are given to the trainer first, so they take
ids ``0..K-1`` in order; no special-token string can also be learnt as a merge, because the
regex always splits ``<`` and ``>`` away from a word before it.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from tokenizer.load import special_ids
from tokenizer.special_tokens import SPECIAL_TOKENS

SPLIT_PATTERN = (
    r"[^\r\n\p{L}\p{M}\p{N}]?[\p{L}\p{M}]+"  # a word, with one leading space or symbol
    r"|\p{N}{1,3}"                           # digit groups of one to three
    r"| ?[^\s\p{L}\p{M}\p{N}]+"              # a punctuation run, with one leading space
    r"|\s*[\r\n]+"                           # line breaks, never joined to the next indent
    r"|\s+(?!\S)"                            # indentation, minus the space a word takes
    r"|\s+"                                  # e.g. a space before a digit, a tab before "("
)
"""The pre-tokenisation regex (Oniguruma / fancy-regex syntax, not Python ``re``)."""

BYTE_ALPHABET_SIZE = 256
"""Byte-level BPE always holds all 256 byte symbols, whatever the training text contains."""

MIN_VOCAB_SIZE = len(SPECIAL_TOKENS) + BYTE_ALPHABET_SIZE
"""The smallest vocabulary that holds every special token and every byte, with no merges."""


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """Train a byte-level BPE tokenizer on ``texts``.

    The result is deterministic: the same texts give a byte-identical ``to_str()`` in any
    process, although the Rust trainer's hash maps are seeded per process. It breaks count
    ties by symbol id, and every id here is fixed (specials, then the sorted byte alphabet,
    then merges in order); only continuing-subword prefixes, which we do not use, get ids in
    hash order (huggingface/tokenizers#1794). Word counts are sums, so the order of the
    texts does not matter either: a sample gathered by any runner gives the same tokenizer.

    Args:
        texts: training documents, e.g. a sample of the corpus; read once, streamed in
            batches by the trainer, so a generator over a large sample is fine.
        vocab_size: size of the final vocabulary, counting the special tokens and the 256
            byte symbols; at least ``MIN_VOCAB_SIZE``. A corpus too small to yield that many
            merges gives a smaller vocabulary.
        min_frequency: a pair seen fewer times than this (over the whole corpus) is never
            merged; default 2, which keeps one-off strings (hashes, base64) out of the vocab.

    Returns:
        A tokenizer with the split regex, byte-level pre-tokeniser and decoder, the special
        tokens at ids ``0..len(SPECIAL_TOKENS)-1``, and no post-processor (callers append
        ``<|endoftext|>`` themselves).

    Raises:
        ValueError: ``vocab_size`` is below ``MIN_VOCAB_SIZE``.
    """
    if vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(
            f"vocab_size must be at least {MIN_VOCAB_SIZE} ({len(SPECIAL_TOKENS)} special tokens "
            f"+ {BYTE_ALPHABET_SIZE} bytes), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
        # NOTE: after the Split, so it only maps bytes to symbols and never re-splits.
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    special_ids(tok)  # raises if the trainer ever stops putting specials first
    return tok
