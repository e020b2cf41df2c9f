"""Use a trained checkpoint: left-to-right generation and CodeGen2 infilling.

A checkpoint (``<checkpoint_dir>/step-NNNNNN``, see ``training.checkpoint``) holds weights,
optimizer state, the trainer state and the run's resolved training config (``run.json``):
the network's shape, the context length and the corpus (hence the tokenizer) come from
there (``run_config``), or from a config given again. ``load_model`` checks that the pair
belongs together before touching a weight: the checkpoint must have been trained on the config's manifest (its
recorded manifest hash), and every tensor the config's model needs must be in the
checkpoint with the same shape. Any mismatch is a ``CheckpointError`` of one line.

Weights are read with ``torch.distributed.checkpoint`` in a single process, without a
process group (``no_dist=True``), into a plain ``Transformer`` on CPU or the first GPU;
DCP reassembles the FSDP shards of any world size. The optimizer state is not read.

Prompts start with ``<|endoftext|>``: in packed training data every document but the very
first follows one, so the model has seen it as "a document starts here". Special ids are the
corpus's (``SpecialIds`` from the manifest, which ``load_model`` returns), so a model trained
on a corpus built with a given tokenizer is prompted with that tokenizer's ids. ``generate`` runs
the whole window through the model for each new token (no KV cache; these are small
models); once the sequence outgrows the training context (``data.seq_len``) the model sees
its last ``seq_len`` tokens.

An encoder-decoder checkpoint (``model.architecture: encoder_decoder``) generates as it
trained: the encoder reads the prompt (its last ``seq_len + 1`` tokens), the decoder starts
from ``<|endoftext|>`` (the start id of training, ``training.data.loader.collate_seq2seq``)
and continues, so the output is what follows the prompt, as ``seq2seq_lm`` taught it. It
infills as ``t5_span`` taught it: the encoder reads ``<|endoftext|> prefix <mask_1>
suffix``, the decoder starts from ``<|endoftext|> <mask_1>`` and writes the middle, ended
by ``<|endoftext|>`` (or ``<mask_2>``). ``continuation`` and ``infilling`` build the
``Request`` of either architecture.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Sequence
from typing import NamedTuple

import torch
from tokenizers import Tokenizer

from tokenizer.load import TokenizerError, load_tokenizer
from tokenizer.special_tokens import EOM, SEP, SpecialIds, listing, mask_token
from training.checkpoint import (RUN_FILE, CheckpointError, check_model_tensors, read_run,
                                 read_state)
from training.config import TrainConfig, config_from_dict, load_config
from training.model import ModelArgs, Transformer

INFILL_TOKENS = (SEP, EOM, mask_token(1))
"""Special tokens an infill prompt and its answer are made of, besides ``<|endoftext|>``."""


def _encode(tok: Tokenizer, text: str) -> list[int]:
    from tokenizer.encode import encode_batch

    return encode_batch(tok, [text])[0].tolist()


def document_prompt(tok: Tokenizer, text: str,
                    specials: SpecialIds = SpecialIds.default()) -> list[int]:
    """Ids of a left-to-right prompt: ``<|endoftext|> text``, with ``specials``' ids."""
    return [specials.eot, *_encode(tok, text)]


def infill_prompt(tok: Tokenizer, prefix: str, suffix: str,
                  specials: SpecialIds = SpecialIds.default()) -> list[int]:
    """Ids of a CodeGen2 infill prompt; the model continues with the middle and ``<eom>``.

    ``<|endoftext|> prefix <mask_1> suffix <|endoftext|> <sep> <mask_1>``, the layout the
    ``codegen2`` objective trains on (``training.objectives.span``) with one span, in the
    ids of ``specials`` (default: the codemix layout).

    Raises:
        TokenizerError: ``specials`` lacks ``INFILL_TOKENS``, naming them.
    """
    missing = specials.missing(INFILL_TOKENS)
    if missing:
        raise TokenizerError(f"infilling needs the special tokens {listing(missing)}, which "
                             "the corpus's tokenizer lacks")
    mask_1 = specials.masks[0]
    return [specials.eot, *_encode(tok, prefix), mask_1, *_encode(tok, suffix),
            specials.eot, specials.sep, mask_1]


class Request(NamedTuple):
    """What ``generate`` is given for one answer.

    Attributes:
        ids: the prompt: a decoder-only model continues it, an encoder-decoder's encoder
            reads it.
        decoder_ids: the ids an encoder-decoder's decoder starts from (``generate``'s
            ``decoder_ids``); empty for a decoder-only model.
        stop_ids: ids that end the answer (the last id generated, not part of the answer).
    """

    ids: list[int]
    decoder_ids: list[int]
    stop_ids: frozenset[int]


def continuation(model: Transformer, tok: Tokenizer, text: str,
                 specials: SpecialIds = SpecialIds.default()) -> Request:
    """The ``Request`` that continues ``text`` left to right until ``<|endoftext|>``: the
    ``document_prompt``, which an encoder-decoder's encoder reads while its decoder starts
    from ``<|endoftext|>``."""
    start = [] if model.encoder is None else [specials.eot]
    return Request(document_prompt(tok, text, specials), start, frozenset({specials.eot}))


def infilling(model: Transformer, tok: Tokenizer, prefix: str, suffix: str,
              specials: SpecialIds = SpecialIds.default()) -> Request:
    """The ``Request`` that writes the middle between ``prefix`` and ``suffix``.

    A decoder-only model gets CodeGen2's ``infill_prompt`` and stops at ``<eom>``; an
    encoder-decoder gets ``t5_span``'s layout with one span: the encoder reads
    ``<|endoftext|> prefix <mask_1> suffix``, the decoder starts from ``<|endoftext|>
    <mask_1>`` and stops at ``<|endoftext|>`` (the end of its targets) or ``<mask_2>`` (a
    second span's sentinel).

    Raises:
        TokenizerError: ``specials`` lacks the special tokens the layout needs, naming them.
    """
    if model.encoder is None:
        return Request(infill_prompt(tok, prefix, suffix, specials), [],
                       frozenset({specials.eom}))
    if not specials.masks:
        raise TokenizerError("infilling needs the special token <mask_1>, which the "
                             "corpus's tokenizer lacks")
    mask_1 = specials.masks[0]
    ids = [specials.eot, *_encode(tok, prefix), mask_1, *_encode(tok, suffix)]
    return Request(ids, [specials.eot, mask_1],
                   frozenset({specials.eot, *specials.masks[1:2]}))


@torch.no_grad()
def generate(model: Transformer, ids: Sequence[int], *, max_new_tokens: int,
             temperature: float = 0.0, seed: int = 0,
             stop_ids: Collection[int] = (),
             stop: Callable[[list[int]], bool] | None = None,
             decoder_ids: Sequence[int] = ()) -> list[int]:
    """Continue ``ids`` one token at a time.

    Args:
        model: the network (put in eval mode here; it has no dropout either way).
        ids: the prompt, at least one id.
        max_new_tokens: the most tokens to add.
        temperature: 0 picks the most likely token (greedy); above 0 samples from
            ``softmax(logits / temperature)``.
        seed: seeds the sampler's ``torch.Generator`` (CPU, so a seed gives the same draws
            on any device); unused when greedy.
        stop_ids: stop after producing one of these.
        stop: called with the new ids after each token; stop once it returns true (for
            stops that are text, such as HumanEval's stop sequences, which no id marks).
        decoder_ids: an encoder-decoder's decoder starts from these ids (at least the
            corpus's ``<|endoftext|>``, its start in training; ``Request.decoder_ids``)
            while its encoder reads ``ids``; required for one, unused by a decoder-only
            model, which continues ``ids`` itself.

    Returns:
        The new ids (not the prompt); the last is a stop id if one was produced, otherwise
        there are ``max_new_tokens`` of them unless ``stop`` ended generation sooner.
    """
    if not ids:
        raise ValueError("generate needs a prompt of at least one token")
    if max_new_tokens < 0 or temperature < 0:
        raise ValueError("max_new_tokens and temperature must be non-negative")
    model.eval()
    device = model.tok_embeddings.weight.device
    window = model.args.max_seq_len
    generator = torch.Generator().manual_seed(seed)
    prompt = torch.tensor(list(ids), dtype=torch.long, device=device)
    encoder_tokens = None
    if model.encoder is None:
        sequence = prompt  # the decoder continues the prompt itself
    elif not decoder_ids:
        raise ValueError("an encoder-decoder needs decoder_ids, the ids its decoder starts "
                         "from")
    else:  # the encoder reads the prompt (re-encoded each step: small models, no cache)
        encoder_tokens = prompt[-window:][None]
        sequence = prompt.new_tensor(list(decoder_ids))
    new: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(sequence[-window:][None],  # [vocab]
                       encoder_tokens=encoder_tokens)[0, -1].float().cpu()
        if temperature == 0:
            token = int(logits.argmax())
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            token = int(torch.multinomial(probs, 1, generator=generator))
        new.append(token)
        if token in stop_ids or (stop is not None and stop(new)):
            break
        sequence = torch.cat([sequence, sequence.new_tensor([token])])
    return new


def run_config(checkpoint: str, config: str | None = None,
               overrides: Sequence[str] = ()) -> TrainConfig:
    """The training config of the run that wrote ``checkpoint``, with ``overrides``
    (``section.key=value``) on top.

    Args:
        checkpoint: a checkpoint folder written by training.
        config: a training config YAML to use instead of the one the checkpoint stores
            (needed only for checkpoints written before they stored one).
        overrides: as for ``codemix train --set``.

    Raises:
        CheckpointError: no checkpoint there, or it stores no config and none is given.
        ConfigError: a bad config or override.
    """
    if config:
        return load_config(config, list(overrides))
    stored = read_run(checkpoint)
    if stored is None:
        read_state(checkpoint, no_dist=True)  # no checkpoint at all: says so
        raise CheckpointError(f"checkpoint {checkpoint} stores no training config (written "
                              "by an older codemix): pass the run's --config")
    return config_from_dict(stored["config"], list(overrides), f"{checkpoint}/{RUN_FILE}")


def load_model(checkpoint: str, cfg: TrainConfig, device: torch.device | None = None
               ) -> tuple[Transformer, Tokenizer, SpecialIds]:
    """The model of a checkpoint, its tokenizer and special ids, for one process without a
    group.

    Args:
        checkpoint: a checkpoint folder written by training (``.../step-NNNNNN``).
        cfg: the training config of that run (model shape, ``data.seq_len``, manifest).
        device: where to put the model; default the first GPU if there is one, else CPU.

    Returns:
        The model in eval mode, float32, the tokenizer of the run's manifest and the ids of
        its special tokens.

    Raises:
        CheckpointError: no checkpoint there, or it is not from a run of ``cfg``.
        ManifestError: the manifest or its tokenizer is missing or changed, or its special
            token ids are impossible.
        TokenizerError: the tokenizer file is not a tokenizer.
    """
    from shards import ManifestError, load_manifest
    from shards.format import file_sha256
    from shards.manifest import locate, resolve
    from training.data.corpus import check_special_tokens

    state = read_state(checkpoint, no_dist=True)
    url = locate(cfg.data.manifest)
    # The shards are not needed here, so only the (small) tokenizer file is hashed.
    manifest = load_manifest(url, verify=False)
    check_special_tokens(manifest, url)
    if manifest.sha256() != state.manifest_sha256:
        raise CheckpointError(
            f"checkpoint {checkpoint} was trained on manifest {state.manifest_sha256[:12]}…, "
            f"the config's {url} is {manifest.sha256()[:12]}…; pass the run's own config")
    tok_url = resolve(url, manifest.tokenizer.path)
    try:
        if file_sha256(tok_url) != manifest.tokenizer.sha256:
            raise ManifestError(f"tokenizer {manifest.tokenizer.path}: sha256 mismatch with "
                                f"{url} (file changed after the build)")
        tok = load_tokenizer(tok_url)
    except FileNotFoundError:
        raise ManifestError(f"tokenizer {manifest.tokenizer.path} named by {url} "
                            f"is missing") from None

    args = ModelArgs.from_config(cfg.model, vocab_size=manifest.tokenizer.vocab_size,
                                 seq_len=cfg.data.seq_len, embedding_dim=cfg.embedding_dim)
    model = Transformer(args)
    _check_shapes(checkpoint, model)
    import torch.distributed.checkpoint as dcp

    holder = {"model": model.state_dict()}
    with warnings.catch_warnings():
        # Without a group DCP warns that it assumes one process, which is what we want.
        warnings.simplefilter("ignore", UserWarning)
        dcp.load(holder, checkpoint_id=checkpoint, no_dist=True)
    model.load_state_dict(holder["model"])
    if device is None:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    specials = SpecialIds.from_mapping(manifest.tokenizer.special_tokens)
    return model.to(device).eval(), tok, specials


def _check_shapes(checkpoint: str, model: Transformer) -> None:
    """Refuse, in one line, a checkpoint whose model tensors differ from ``model``'s."""
    hint = "the config's model does not match the run (pass the run's own config)"
    state = model.state_dict()
    saved = check_model_tensors(checkpoint, {k: v.shape for k, v in state.items()},
                                hint=hint)
    extra = sorted(saved - state.keys())
    if extra:
        raise CheckpointError(f"checkpoint {checkpoint} has {extra[0]}, which the config's "
                              f"model lacks (pass the run's own config)")
