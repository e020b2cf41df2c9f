"""Train the codemix byte-level BPE tokenizer with HF ``tokenizers``, code-aware.

Algorithm: byte-level BPE (GPT-2 style: every byte is a base symbol, so any text encodes and
nothing is ever unknown) behind a code-aware split regex in the GPT-4 (``cl100k``) family.
The regex (``split_pattern``) cuts text into pieces that merges never cross:

- a run of letters (and combining marks), with at most one leading space or symbol, so
  ``" return"``, ``".append"`` and ``"_name"`` can become single tokens;
- digits alone, or in groups of up to ``digits`` (configurable: 1 splits every digit, as
  LLaMA and StarCoder do, so numbers are spelt digit by digit; 3, the default, is GPT-4's;
  0 keeps a whole run of digits as one piece, as GPT-2 does);
- a run of punctuation with at most one leading space (``" =="``, ``"):"``, ``"{"``);
- line breaks on their own, never joined to the indentation after them;
- whitespace in runs of one kind: spaces, tabs, or any other whitespace. The last space
  before a word or a symbol goes with it, so a keyword is the same token at any
  indentation (``"        return"`` is ``"       "`` + ``" return"``); a tab never joins a
  word (``"\\t\\treturn"`` is ``"\\t\\t"`` + ``"return"``). A run longer than
  ``space_runs`` spaces (``tab_runs`` tabs) is cut into pieces of at most that many.

Code-aware like CodeGen's tokenizer, which added tokens for runs of 2..31 spaces and 2..9
tabs to GPT-2's: runs of ``2..space_runs`` spaces and ``2..tab_runs`` tabs are guaranteed
to be single tokens of the vocabulary. Where training did not learn one, it is appended as
a merge of the run one shorter and one more space (or tab), making room by dropping the
last-learnt merges, so the vocabulary keeps its size. The model is written with
``ignore_merges``: a piece that is itself a token is encoded as that token, which is what
``tiktoken`` does too. Since no piece holds two spaces (or tabs) unless it is a run of
nothing else, and no such run is longer than a guaranteed token, every such run is exactly
one token under both libraries however its merges were learnt, and the fast encoding path
(``tokenizer.fast``) stays exact.

Unlike GPT-4 there are no English contraction rules (``'s``, ``'ll``): in code a quote is a
string delimiter, and gluing it to the string's first letters would make the delimiter's
tokenisation depend on the string's contents. Punctuation also does not swallow the newline
after it (GPT-4 does), which keeps ``"\\n"`` one token however a line ends.

Trade-off: a split regex loses a few merges that would cross its boundaries (``"):\\n"``), in
exchange for a vocabulary of meaningful pieces and a pattern that ``tiktoken`` can run, which
is what makes the fast encoding path of ``tokenizer.encode`` possible.

Special tokens (``tokenizer.special_tokens``) are given to the trainer first, so they take
ids ``0..K-1`` in order; no special-token string can also be learnt as a merge, because the
regex always splits ``<`` and ``>`` away from a word before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from tokenizer.fast import byte_alphabet
from tokenizer.load import special_ids
from tokenizer.special_tokens import SPECIAL_TOKENS, default_ids

DIGITS = 3
"""Default digit grouping: runs of digits are cut into pieces of up to three (GPT-4)."""

SPACE_RUNS = 31
"""Default longest run of spaces guaranteed to be one token (CodeGen: 2..31)."""

TAB_RUNS = 9
"""Default longest run of tabs guaranteed to be one token (CodeGen: 2..9)."""

BYTE_ALPHABET_SIZE = 256
"""Byte-level BPE always holds all 256 byte symbols, whatever the training text contains."""


def split_pattern(digits: int = DIGITS, space_runs: int = SPACE_RUNS,
                  tab_runs: int = TAB_RUNS) -> str:
    """The pre-tokenisation regex (Oniguruma / fancy-regex syntax, not Python ``re``).

    Args:
        digits: most digits per piece; 0 puts no limit on a run of digits.
        space_runs: longest run of spaces in one piece (a longer run is cut into pieces of
            at most this many); 1 puts no limit.
        tab_runs: the same for tabs.
    """
    if digits < 0:
        raise ValueError(f"digits must be 0 (no split) or positive, got {digits}")
    number = r"\p{N}+" if digits == 0 else rf"\p{{N}}{{1,{digits}}}"
    spaces = " +" if space_runs == 1 else f" {{1,{space_runs}}}"
    tabs = r"\t+" if tab_runs == 1 else rf"\t{{1,{tab_runs}}}"
    return (
        r"(?: |[^\s\p{L}\p{M}\p{N}])?[\p{L}\p{M}]+"  # a word, with one leading space or symbol
        rf"|{number}"                                # digits, alone or grouped
        r"| ?[^\s\p{L}\p{M}\p{N}]+"                  # a punctuation run, with one leading space
        r"|[\r\n]+"                                  # line breaks
        rf"|{spaces}(?= [^\s\p{{N}}])"               # indentation, minus the space a word takes
        rf"|{spaces}"                                # any other run of spaces
        rf"|{tabs}"                                  # a run of tabs
        r"|[^\S\r\n \t]+"                            # a run of any other whitespace
    )


def min_vocab_size(space_runs: int = SPACE_RUNS, tab_runs: int = TAB_RUNS) -> int:
    """The smallest vocabulary that holds every special token, every byte and the
    guaranteed whitespace runs."""
    return len(SPECIAL_TOKENS) + BYTE_ALPHABET_SIZE + len(whitespace_runs(space_runs, tab_runs))


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2, *,
              digits: int = DIGITS, space_runs: int = SPACE_RUNS,
              tab_runs: int = TAB_RUNS) -> Tokenizer:
    """Train a byte-level BPE tokenizer on ``texts``.

    The result is deterministic: the same texts give a byte-identical ``to_str()`` in any
    process, although the Rust trainer's hash maps are seeded per process. It breaks count
    ties by symbol id, and every id here is fixed (specials, then the sorted byte alphabet,
    then merges in order, then any whitespace runs added); only continuing-subword
    prefixes, which we do not use, get ids in hash order (huggingface/tokenizers#1794).
    Word counts are sums, so the order of the texts does not matter either: a sample
    gathered by any runner gives the same tokenizer.

    Args:
        texts: training documents, e.g. a sample of the corpus; read once, streamed in
            batches by the trainer, so a generator over a large sample is fine.
        vocab_size: size of the final vocabulary, counting the special tokens, the 256
            byte symbols and the guaranteed whitespace runs; at least ``min_vocab_size``.
            A corpus too small to yield that many merges gives a smaller vocabulary.
        min_frequency: a pair seen fewer times than this (over the whole corpus) is never
            merged; default 2, which keeps one-off strings (hashes, base64) out of the vocab.
        digits: most digits per piece (``split_pattern``); default 3, 1 splits every
            digit, 0 never splits a run of digits.
        space_runs: runs of 2 up to this many spaces are each one token (default 31;
            1 guarantees none).
        tab_runs: runs of 2 up to this many tabs are each one token (default 9; 1
            guarantees none; a single space or tab is a byte, always a token).

    Returns:
        A tokenizer with the split regex, byte-level pre-tokeniser and decoder, the special
        tokens at ids ``0..len(SPECIAL_TOKENS)-1``, and no post-processor (callers append
        ``<|endoftext|>`` themselves).

    Raises:
        ValueError: ``vocab_size`` is below ``min_vocab_size``, ``digits`` is negative, or
            ``space_runs`` or ``tab_runs`` is below 1.
    """
    if space_runs < 1 or tab_runs < 1:
        raise ValueError(f"space_runs and tab_runs must be at least 1, got {space_runs} "
                         f"and {tab_runs}")
    runs = whitespace_runs(space_runs, tab_runs)
    smallest = min_vocab_size(space_runs, tab_runs)
    if vocab_size < smallest:
        raise ValueError(
            f"vocab_size must be at least {smallest} ({len(SPECIAL_TOKENS)} special tokens "
            f"+ {BYTE_ALPHABET_SIZE} bytes + {len(runs)} whitespace runs), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split_pattern(digits, space_runs, tab_runs)),
                             behavior="isolated"),
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
    if special_ids(tok) != default_ids():
        raise RuntimeError("the BPE trainer did not put the special tokens first, in order")
    data = json.loads(tok.to_str())
    _guarantee_runs(data["model"], vocab_size, runs)
    return Tokenizer.from_str(json.dumps(data))


def whitespace_runs(space_runs: int = SPACE_RUNS, tab_runs: int = TAB_RUNS) -> list[str]:
    """The runs guaranteed to be tokens: 2..space_runs spaces, then 2..tab_runs tabs."""
    return [" " * n for n in range(2, space_runs + 1)] + ["\t" * n for n in range(2, tab_runs + 1)]


def _guarantee_runs(model: dict[str, Any], vocab_size: int, runs: list[str]) -> None:
    """Make every run a token of the BPE ``model`` (its JSON, edited in place).

    Trained ids run: specials, bytes, then one per merge in merge order. Missing runs are
    appended in ``runs`` order, each as the merge ``(run minus its last character, last
    character)`` with the next id, so every token still comes from one merge and ids still
    follow merge order (what ``tokenizer.fast`` needs). The last-learnt merges make room:
    they are the least frequent, and no earlier merge uses their tokens.
    """
    symbol = {byte: sym for sym, byte in byte_alphabet().items()}
    wanted = ["".join(symbol[b] for b in run.encode()) for run in runs]
    vocab, merges = model["vocab"], model["merges"]
    size, first_merge = len(vocab), len(vocab) - len(merges)
    drop = 0  # dropping the last ``drop`` merges keeps the ids below ``size - drop``
    while True:
        missing = [w for w in wanted if vocab.get(w, size) >= size - drop]
        if size - drop + len(missing) <= vocab_size:
            break
        drop += 1
    for token in [t for t, i in vocab.items() if i >= size - drop]:
        del vocab[token]
    del merges[len(merges) - drop:]
    for token in missing:
        vocab[token] = first_merge + len(merges)
        merges.append([token[:-1], token[-1]])
    model["ignore_merges"] = True
