"""Start an encoder-decoder from decoder-only checkpoints: CodeT5+'s compute-efficient
recipe (Wang et al. 2023, arXiv:2305.07922, section 3.3).

CodeT5+ builds its 2B-16B models from off-the-shelf decoder-only models: a deep one becomes
the decoder, a shallow one the encoder, joined by fresh cross-attention; the deep decoder
is then frozen (``training.freeze``), so only the encoder and the cross-attention train.
Here both come from codemix decoder-only checkpoints:

- ``model.init_decoder_from``: every decoder tensor (``training.model.in_decoder``) under
  its own name, since the decoder keeps the decoder-only names; the checkpoint's model must
  have this config's shapes (``n_layers`` blocks);
- ``model.init_encoder_from``: the checkpoint's embeddings, final norm and first
  ``encoder_layers`` blocks into ``encoder.``; its blocks were causal and now attend both
  ways, which the encoder's training adapts them to (CodeT5+ does the same). Its output
  projection is not used.

An embedding row means a token, so a checkpoint must come from a corpus with this corpus's
tokenizer: compared by the sha256 in the manifest its ``run.json`` names. Every tensor is
checked (present, same shape) before any is read; then DCP loads straight into the sharded
parameters (collective: each rank reads its own shards, no rank holds a whole model).
"""

from __future__ import annotations

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                     set_model_state_dict)

from shards import ManifestError, load_manifest
from shards.manifest import locate
from training.checkpoint import CheckpointError, check_model_tensors, read_run
from training.config import ModelConfig
from training.model import in_decoder

ENCODER_PREFIX = "encoder."


def decoder_names(names: list[str]) -> dict[str, str]:
    """Checkpoint tensor name -> model tensor name of what ``init_decoder_from`` loads."""
    return {name: name for name in names if in_decoder(name)}


def encoder_names(names: list[str]) -> dict[str, str]:
    """Checkpoint tensor name -> model tensor name of what ``init_encoder_from`` loads: the
    encoder's tensors, named as in a decoder-only model."""
    return {name[len(ENCODER_PREFIX):]: name for name in names
            if name.startswith(ENCODER_PREFIX)}


def check_tokenizer(path: str, tokenizer_sha256: str) -> None:
    """Refuse, in one line, a checkpoint trained with another tokenizer than
    ``tokenizer_sha256`` (or whose tokenizer cannot be told)."""
    run = read_run(path)
    if run is None:
        raise CheckpointError(f"checkpoint {path} stores no run.json (written by an older "
                              "codemix): its tokenizer cannot be checked")
    try:
        theirs = load_manifest(locate(run["manifest"]), verify=False).tokenizer.sha256
    except (ManifestError, FileNotFoundError):
        raise CheckpointError(f"checkpoint {path} was trained on {run['manifest']}, which is "
                              "gone: its tokenizer cannot be checked") from None
    if theirs != tokenizer_sha256:
        raise CheckpointError(f"checkpoint {path} was trained with tokenizer {theirs[:12]}…, "
                              f"this corpus has {tokenizer_sha256[:12]}…: its embeddings "
                              "would mean other tokens")


def load_pretrained(model: torch.nn.Module, cfg: ModelConfig, *,
                    tokenizer_sha256: str) -> None:
    """Load ``cfg.init_decoder_from`` and ``cfg.init_encoder_from`` (each when set) into
    the (sharded) encoder-decoder ``model``; collective.

    Args:
        model: the initialised model (``training.train.build_model``).
        cfg: the run's model section.
        tokenizer_sha256: the corpus's tokenizer (``Manifest.tokenizer.sha256``).

    Raises:
        CheckpointError: a checkpoint missing, of another tokenizer, or lacking a tensor
            (or holding it in another shape), before any weight is read.
    """
    state = get_model_state_dict(model)  # names as checkpoints write them
    for path, names, whole in ((cfg.init_decoder_from, decoder_names(list(state)), True),
                               (cfg.init_encoder_from, encoder_names(list(state)), False)):
        if not path:
            continue
        saved = check_model_tensors(
            path, {theirs: state[ours].shape for theirs, ours in names.items()},
            hint="its model must have this config's dim, n_heads, mlp_ratio, multiple_of "
                 "and enough layers")
        deeper = sorted(n for n in saved if in_decoder(n) and n not in names)
        if whole and deeper:  # the encoder takes the first blocks, the decoder all
            raise CheckpointError(f"checkpoint {path} has {deeper[0]}, which this config's "
                                  f"decoder of {cfg.n_layers} blocks lacks")
        check_tokenizer(path, tokenizer_sha256)
        holder = {"model": {theirs: state[ours] for theirs, ours in names.items()}}
        dcp.load(holder, checkpoint_id=path)
        set_model_state_dict(model, {ours: holder["model"][theirs]
                                     for theirs, ours in names.items()},
                             options=StateDictOptions(strict=False))
