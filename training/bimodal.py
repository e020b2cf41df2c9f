"""CodeT5+'s text-code contrastive and matching losses on the pairs of a micro-batch.

CodeT5+ (Wang et al., 2023, arXiv:2305.07922, section 3.2) aligns text and code with two
losses besides generation (``training.objectives.bimodal``), both on one decoder here:

- **Contrastive** (text-code contrastive learning): each pair's docstring and code are
  encoded on their own, pooled into one vector each through the ``contrastive`` projection
  head, L2-normalised, and scored against each other: ``S = text @ code.T / temperature``.
  The loss is symmetric InfoNCE over in-batch pairs: for each pair, the mean of the cross
  entropy of its row of ``S`` (text -> the right code) and of its column (code -> the right
  text).
- **Matching** (text-code matching): a joint ``docstring <sep> code EOT`` sequence is pooled
  into the ``matching`` head's one logit, trained with binary cross entropy on the true
  pairs (label 1) and, for each docstring, the hard negative: the wrong code that scores
  highest in the (detached) contrastive matrix (label 0; ALBEF's / CodeT5+'s hard-negative
  mining, by argmax). A pair's matching loss is the mean over its two sequences.

**Encoding on one decoder.** The contrastive pass reuses the bimodal example's rows: in each
row holding pairs, every pair's ``<sep>`` becomes an EOT, so the docstring and the code are
two documents, and attention is masked per document (``training.attention``), whatever
``training.document_mask`` says. Each side is pooled at its EOT, the position that has
read all of it (causal attention); RoPE depends on relative positions only, so a side
encodes the same wherever it sits. The matching pass packs its joint sequences, each ending
with an EOT, into rows as long as the longest needs, again with document masking, and pools
at each EOT. A negative that does not fit in ``seq_len`` has its code cut.

**On an encoder-decoder** (CodeT5+'s own layout) each example is one pair
(``training.objectives.bimodal.bimodal_seq2seq``), generated through the decoder with the
condition in the encoder. The contrastive pass runs the encoder alone over each side and an
EOT, one row each (padding hidden), and pools at that EOT: its final state has read the
whole side in both directions (CodeT5+ pools its first token, a ``[CLS]`` codemix's
tokenizer lacks; ``side_rows``). The matching pass feeds each docstring and an EOT to the
encoder and ``<|endoftext|> code EOT`` to the decoder, which cross-attends to the
docstring, and pools at the decoder's last EOT (CodeT5+'s ``[EOS]``), one couple per row
(``seq2seq_matching_rows``). Hard negatives, gathering and losses are the decoder's.

**In-batch means the whole micro-batch**, over every rank: the complete pairs of its ``G``
rows, in rank order, which is the order one process holding all ``G`` rows sees. Each rank
encodes its own pairs, the embeddings are gathered (``gather_pairs``), and every rank scores
all of them and takes the full loss, its own embeddings the only ones carrying gradient:
the gradients of the ranks then add up to the gradient of the whole micro-batch's loss.
Hard negatives are mined from the whole matrix (the same on every rank); a rank builds the
matching sequences of its own docstrings, drawing negative codes from any rank's pairs
(their tokens are gathered too). So both losses are the same on any number of processes
for the same global batch, like every other loss of the step.

**Passes.** A micro-batch is *paired* when any rank's part of it holds a sample of a
component trained with ``bimodal`` (``MixtureLoader`` decides from the sampler alone, so all
ranks agree without communicating). Only then do ranks run the two passes, each a forward
and a backward, before the generation one: that last backward runs through every block of
either architecture, so when it reduces the gradients, none accumulated by an earlier pass
is left behind (the encoder-decoder's contrastive pass skips the decoder); a rank without
complete pairs runs them on a
one-token stand-in with zero loss, because every FSDP forward and backward is collective.
Unpaired micro-batches, and runs without ``bimodal``, run exactly as before.

**Loss.** Both losses are means per pair over the step (summed over micro-batches and ranks,
divided by the step's pairs on all ranks) and are added to the step's loss with their
weights (``objectives.bimodal_contrastive``, ``objectives.bimodal_matching``); the bimodal
rows' token losses are weighted by ``objectives.bimodal_generation``. ``metric_names`` says
what is logged: ``loss/bimodal_generation`` (per token), ``loss/contrastive`` and
``loss/matching`` (per pair, unweighted) and ``accuracy/matching`` (share of matching
sequences classified right at logit 0).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from tokenizer.special_tokens import SpecialIds
from training.attention import attention_mask
from training.config import ObjectivesConfig
from training.data.loader import Batch
from training.metrics import GroupLosses
from training.objectives import PAIR_OBJECTIVES
from training.parallelize import set_gradient_sync

GENERATION, CONTRASTIVE, MATCHING, ACCURACY = (
    "loss/bimodal_generation", "loss/contrastive", "loss/matching", "accuracy/matching")


def metric_names(objectives: Sequence[str]) -> tuple[str, ...]:
    """The trainer's logged groups (``GroupLosses`` names): ``loss/<objective>`` for each of
    ``objectives`` (a batch's group ``g`` is ``objectives[g]``), the pair objective's as
    ``loss/bimodal_generation``, then, when it is among them, the contrastive loss, the
    matching loss and the matching accuracy."""
    names = tuple(GENERATION if o in PAIR_OBJECTIVES else f"loss/{o}" for o in objectives)
    if PAIR_OBJECTIVES & set(objectives):
        names += (CONTRASTIVE, MATCHING, ACCURACY)
    return names


def info_nce(text: torch.Tensor, code: torch.Tensor, temperature: float
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric InfoNCE of ``P`` pairs, in float32.

    Args:
        text: ``[P, d]`` docstring embeddings (any scale: they are L2-normalised here).
        code: ``[P, d]`` code embeddings; pair ``i`` is ``(text[i], code[i])``.
        temperature: the cosine similarities are divided by it.

    Returns:
        The loss of each pair, ``[P]``: the mean of the cross entropy of row ``i`` of the
        scores (text ``i`` against every code) and of column ``i`` (code ``i`` against every
        text), target ``i``; and the scores ``[P, P]``.
    """
    text, code = F.normalize(text.float(), dim=-1), F.normalize(code.float(), dim=-1)
    scores = text @ code.T / temperature  # [P texts, P codes]
    target = torch.arange(len(scores), device=scores.device)
    rows = F.cross_entropy(scores, target, reduction="none")
    columns = F.cross_entropy(scores.T, target, reduction="none")
    return (rows + columns) / 2, scores


def hard_negatives(scores: torch.Tensor) -> torch.Tensor:
    """For each text (row), the wrong code (column) that scores highest: int64 ``[P]``,
    never the diagonal; ties go to the lower index. Needs ``P >= 2``."""
    off_diagonal = scores.detach().clone()
    off_diagonal.fill_diagonal_(-torch.inf)
    return off_diagonal.argmax(dim=1)


def matching_loss(logits: torch.Tensor, labels: torch.Tensor, pair_of: torch.Tensor,
                  pairs: int) -> torch.Tensor:
    """Each pair's matching loss: the mean binary cross entropy of its sequences.

    Args:
        logits: ``[n]`` matching logits, one per joint sequence.
        labels: ``[n]`` float, 1 for a true pair, 0 for a negative.
        pair_of: int64 ``[n]``: the pair (its docstring) each sequence belongs to.
        pairs: number of pairs ``P``; every pair has at least one sequence.

    Returns:
        float32 ``[P]``.
    """
    losses = F.binary_cross_entropy_with_logits(logits.float(), labels, reduction="none")
    sums = torch.zeros(pairs, device=logits.device).index_add_(0, pair_of, losses)
    counts = torch.zeros(pairs, device=logits.device).index_add_(
        0, pair_of, torch.ones_like(losses))
    return sums / counts


class Rows(NamedTuple):
    """Sequences for a pooled pass: the model's keyword arguments.

    Attributes:
        tokens: int64 ``[rows, width]`` token ids: a decoder-only model's, or an
            encoder-decoder's decoder's; None for an encoder-decoder's encoder alone.
        at: int64 ``[n, 2]``: ``(row, position)`` of each pooled EOT, in ``tokens`` (in
            ``encoder_tokens`` when ``tokens`` is None).
        encoder_tokens: int64 ``[rows, enc_width]``: an encoder-decoder's encoder ids;
            None for a decoder-only model.
        encoder_lengths: int64 ``[rows]``: the real ids of each row of ``encoder_tokens``.
    """

    tokens: torch.Tensor | None
    at: torch.Tensor
    encoder_tokens: torch.Tensor | None = None
    encoder_lengths: torch.Tensor | None = None


def contrastive_rows(inputs: np.ndarray, pairs: np.ndarray, specials: SpecialIds) -> Rows:
    """The rows of ``inputs`` that hold pairs, each pair's ``<sep>`` turned into an EOT.

    Args:
        inputs: int64 ``[batch, seq]`` bimodal example inputs.
        pairs: int64 ``[P, 5]``: ``(row, text_start, text_end, code_start, code_end)``
            (``Batch.pairs``), ``P >= 1``.
        specials: the corpus's special ids.

    Returns:
        ``Rows`` whose ``at`` has the ``P`` docstrings' EOTs, then the ``P`` codes'.
    """
    rows, local = np.unique(pairs[:, 0], return_inverse=True)
    tokens = inputs[rows].copy()
    # Whichever side comes first ends where the <sep> is; the second ends at the pair's EOT.
    tokens[local, np.minimum(pairs[:, 2], pairs[:, 4])] = specials.eot
    at = np.r_[np.c_[local, pairs[:, 2]], np.c_[local, pairs[:, 4]]]
    return Rows(torch.from_numpy(tokens), torch.from_numpy(at))


def pair_sides(inputs: np.ndarray, pairs: np.ndarray
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The docstring tokens and the code tokens of each pair of ``pairs`` (as in
    ``contrastive_rows``; ``inputs`` is ``Batch.joined``), in order."""
    texts = [inputs[r, a:b] for r, a, b, _, _ in pairs]
    codes = [inputs[r, a:b] for r, _, _, a, b in pairs]
    return texts, codes


def _padded(pieces: Sequence[np.ndarray], fill: int) -> torch.Tensor:
    """``pieces`` as the rows of one int64 tensor, right-padded with ``fill``."""
    tokens = np.full((len(pieces), max(map(len, pieces))), fill, dtype=np.int64)
    for row, piece in enumerate(pieces):
        tokens[row, :len(piece)] = piece
    return torch.from_numpy(tokens)


def side_rows(sides: Sequence[np.ndarray], specials: SpecialIds, *, encoder: bool) -> Rows:
    """Each of ``sides`` (docstrings or codes, ``n >= 1`` of them) and an EOT, one row
    each, right-padded with EOTs, pooled at that EOT: an encoder-decoder's contrastive
    rows (``encoder``: the encoder's ids, ``tokens`` None), or a decoder-only model's
    (its ids; causal, the padding after the EOT is never read), where a side encodes as in
    ``contrastive_rows``. ``codemix embed`` embeds texts through these rows."""
    pieces = [np.r_[side, specials.eot] for side in sides]
    tokens = _padded(pieces, specials.eot)
    at = torch.tensor([(row, len(piece) - 1) for row, piece in enumerate(pieces)],
                      dtype=torch.int64).reshape(-1, 2)
    if not encoder:
        return Rows(tokens, at)
    return Rows(None, at, tokens, torch.tensor([len(p) for p in pieces], dtype=torch.int64))


def couples(texts: Sequence[np.ndarray], codes: Sequence[np.ndarray],
            negatives: Sequence[np.ndarray]
            ) -> tuple[list[tuple[int, np.ndarray]], np.ndarray, np.ndarray]:
    """The matching pass's ``(pair, code)`` couples: the true pairs first, then each
    docstring with its negative; with each couple's label (float32 ``[n]``, 1 for a true
    pair) and pair (int64 ``[n]``). Arguments as ``matching_rows``'."""
    found = list(zip(range(len(texts)), codes)) + list(enumerate(negatives))
    labels = np.r_[np.ones(len(texts)), np.zeros(len(negatives))].astype(np.float32)
    return found, labels, np.array([i for i, _ in found], dtype=np.int64)


def seq2seq_matching_rows(texts: Sequence[np.ndarray], codes: Sequence[np.ndarray],
                          negatives: Sequence[np.ndarray], specials: SpecialIds
                          ) -> tuple[Rows, np.ndarray, np.ndarray]:
    """An encoder-decoder's matching rows: one couple (``couples``) a row, the docstring
    and an EOT for the encoder, ``<|endoftext|> code EOT`` for the decoder (its start id,
    as in generation), pooled at the decoder's last EOT. Arguments as ``matching_rows``',
    less its ``seq``: each couple has a row of its own, so no code is cut.

    Returns:
        ``Rows`` (the couples' encoder ids as ``side_rows`` gives them), each couple's
        label and pair.
    """
    found, labels, pair_of = couples(texts, codes, negatives)
    encoder = side_rows([texts[i] for i, _ in found], specials, encoder=True)
    pieces = [np.r_[specials.eot, code, specials.eot] for _, code in found]
    at = torch.tensor([(row, len(piece) - 1) for row, piece in enumerate(pieces)],
                      dtype=torch.int64)
    return (encoder._replace(tokens=_padded(pieces, specials.eot), at=at), labels,
            pair_of)


def matching_rows(texts: Sequence[np.ndarray], codes: Sequence[np.ndarray],
                  negatives: Sequence[np.ndarray], seq: int,
                  specials: SpecialIds) -> tuple[Rows, np.ndarray, np.ndarray]:
    """Joint ``docstring <sep> code EOT`` sequences, packed in order into rows.

    Args:
        texts: the ``P >= 1`` pairs' docstring tokens (``pair_sides``).
        codes: their code tokens: pair ``i`` is ``(texts[i], codes[i])``.
        negatives: the code paired with each docstring as its negative (``hard_negatives``
            picks it, from any rank's pairs), ``P`` of them, or none.
        seq: the longest row (the width of the batch's inputs, ``seq_len``); a negative's
            code is cut to fit.
        specials: the corpus's special ids.

    Returns:
        ``Rows`` (``seq`` wide at most, EOT-filled after the last sequence of a row) with
        the true pairs first, then the negatives; each sequence's label (float32, 1 for a
        true pair) and pair (int64), both ``[n]``.
    """
    found, labels, pair_of = couples(texts, codes, negatives)
    rows: list[list[np.ndarray]] = []
    at, used = [], seq
    for i, code in found:
        # A true pair always fits (it fitted its window); a negative may need its code cut.
        piece = np.r_[texts[i], specials.sep, code[:seq - len(texts[i]) - 2], specials.eot]
        if used + len(piece) > seq:
            rows.append([])
            used = 0
        rows[-1].append(piece)
        used += len(piece)
        at.append((len(rows) - 1, used - 1))
    tokens = _padded([np.concatenate(row) for row in rows], specials.eot)
    return Rows(tokens, torch.tensor(at, dtype=torch.int64)), labels, pair_of


def gather_counts(count: int, device: torch.device) -> list[int]:
    """Every rank's ``count``, in rank order; collective."""
    mine = torch.tensor([count], dtype=torch.int64, device=device)
    everyone = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, mine)
    return [int(c) for c in everyone]


def gather_pairs(mine: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """Every rank's pair embeddings, in rank order, this rank's own carrying gradient.

    Args:
        mine: ``[counts[rank], 2, d]`` float32: this rank's pairs' (docstring, code)
            embeddings, with gradient.
        counts: every rank's number of pairs (``gather_counts``).

    Returns:
        ``[sum(counts), 2, d]``: the other ranks' embeddings are detached copies, so the
        gradient of a loss over all of them reaches this rank's encoder through its own
        pairs only; summed over ranks, those gradients are the whole loss's. Collective.
    """
    rank, widest = dist.get_rank(), max(counts)
    padded = mine.new_zeros((widest, *mine.shape[1:]))
    padded[:len(mine)] = mine.detach()
    everyone = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(everyone, padded)
    parts = [part[:n] for part, n in zip(everyone, counts)]
    parts[rank] = mine
    return torch.cat(parts)


def gather_codes(codes: list[np.ndarray]) -> list[np.ndarray]:
    """Every rank's code tokens (``pair_sides``), in rank order; collective."""
    everyone: list[list[np.ndarray] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, codes)
    return [code for part in everyone for code in part]


@dataclasses.dataclass(frozen=True, kw_only=True)
class BimodalLoss:
    """The contrastive and matching passes of a run, and its bimodal weights.

    Attributes:
        generation: weight of the bimodal rows' token losses (``bimodal_generation``).
        contrastive: weight of the contrastive loss.
        matching: weight of the matching loss; 0 skips the matching pass.
        temperature: InfoNCE temperature.
        embedding_dim: width of the contrastive embeddings.
        specials: the corpus's special ids.
        group: the pair objective's batch group (its index in the loader's
            ``objective_names``).
        first: ``GroupLosses`` index of ``loss/contrastive`` (then matching, accuracy).
        encoder_decoder: the model is an encoder-decoder: the passes take its layout.
    """

    generation: float
    contrastive: float
    matching: float
    temperature: float
    embedding_dim: int
    specials: SpecialIds
    group: int
    first: int
    encoder_decoder: bool = False

    @classmethod
    def for_run(cls, cfg: ObjectivesConfig, objectives: Sequence[str],
                specials: SpecialIds, *, encoder_decoder: bool = False) -> BimodalLoss | None:
        """The passes of a run whose batch groups are ``objectives``
        (``MixtureLoader.objective_names``) on a model of the architecture
        ``encoder_decoder`` says, or None when none of them has pairs."""
        paired = [g for g, name in enumerate(objectives) if name in PAIR_OBJECTIVES]
        if not paired:
            return None
        return cls(generation=cfg.bimodal_generation, contrastive=cfg.bimodal_contrastive,
                   matching=cfg.bimodal_matching, temperature=cfg.contrastive_temperature,
                   embedding_dim=cfg.bimodal_embedding_dim, specials=specials, group=paired[0],
                   first=metric_names(objectives).index(CONTRASTIVE),
                   encoder_decoder=encoder_decoder)

    def weigh(self, losses: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """Sequence losses ``[batch]`` with the bimodal rows' (``group``) weighted."""
        if self.generation == 1.0:
            return losses
        return losses * torch.where(group == self.group, self.generation, 1.0)

    def accumulate(self, model: torch.nn.Module, batch: Batch, *, step_pairs: torch.Tensor,
                   losses: GroupLosses, device: torch.device) -> torch.Tensor:
        """The contrastive and matching passes over one paired micro-batch: forward and
        backward each, without reducing gradients (the micro-batch's generation backward
        comes after them and does); collective.

        Args:
            model: the (FSDP-sharded) model, with bimodal heads.
            batch: this rank's part of the micro-batch as the loader made it (on the CPU:
                the rows are built there), ``pairs`` not None.
            step_pairs: pairs in all micro-batches of the step on all ranks (the losses are
                means per pair over the step), a scalar tensor, at least 1.
            losses: the trainer's groups (``metric_names``); this rank's pairs' contrastive
                loss, matching loss and accuracy are added.
            device: where the model is.

        Returns:
            This rank's share of the step's weighted contrastive and matching loss (its
            pairs' terms; detached scalar): the shares of all ranks add up to the step's.
        """
        joined, pairs = batch.joined.numpy(), batch.pairs.numpy()
        texts, codes = pair_sides(joined, pairs)
        count = len(pairs)
        counts = gather_counts(count, device)
        first = sum(counts[:dist.get_rank()])
        mine = slice(first, first + count)
        # FSDP averages gradients over ranks and each rank's gradient is its share of the
        # whole loss: scaling by the world size makes the average their sum.
        scale = dist.get_world_size() / step_pairs
        negatives = np.zeros(0, np.int64)
        set_gradient_sync(model, False)
        # Every rank runs its forward (a stand-in without pairs) before the gather: FSDP's
        # collectives and the gather's must come in the same order on all ranks.
        if count:
            rows = (side_rows([*texts, *codes], self.specials, encoder=True)
                    if self.encoder_decoder else contrastive_rows(joined, pairs, self.specials))
            embeddings = pooled(model, rows, "contrastive", self.specials, device).float()
            sides = torch.stack([embeddings[:count], embeddings[count:]], dim=1)
        else:
            sides = torch.zeros(0, 2, self.embedding_dim, device=device)
            stand_in = self._stand_in(model, "contrastive", device)
        if sum(counts):
            everyone = gather_pairs(sides, counts)
            per_pair, scores = info_nce(everyone[:, 0], everyone[:, 1], self.temperature)
            if len(per_pair) > 1:
                negatives = hard_negatives(scores).cpu().numpy()
        contrastive = per_pair.sum() * scale if count else stand_in
        (self.contrastive * contrastive).backward()
        total = torch.zeros((), device=device)
        if count:
            own = per_pair[mine].detach().sum()
            total = self.contrastive * own / step_pairs
            losses.add(torch.tensor([self.first], device=device), own[None],
                       torch.tensor([count], device=device))
        if not self.matching:
            return total
        every_code = gather_codes(codes) if len(negatives) else []
        if count:
            chosen = [every_code[j] for j in negatives[mine]]
            rows, labels, pair_of = (
                seq2seq_matching_rows(texts, codes, chosen, self.specials)
                if self.encoder_decoder
                else matching_rows(texts, codes, chosen, joined.shape[1], self.specials))
            logits = pooled(model, rows, "matching", self.specials, device).squeeze(-1)
            labels = torch.from_numpy(labels).to(device)
            per_pair = matching_loss(logits, labels, torch.from_numpy(pair_of).to(device),
                                     count)
            matching = per_pair.sum() * scale
        else:
            matching = self._stand_in(model, "matching", device)
        (self.matching * matching).backward()
        if count:
            right = ((logits.detach() > 0).float() == labels).sum()
            losses.add(torch.tensor([self.first + 1, self.first + 2], device=device),
                       torch.stack([per_pair.detach().sum(), right]),
                       torch.tensor([count, len(labels)], device=device))
            total = total + self.matching * per_pair.detach().sum() / step_pairs
        return total

    def _stand_in(self, model: torch.nn.Module, head: str,
                  device: torch.device) -> torch.Tensor:
        """A zero loss through ``head`` on one token: the pass a rank without pairs runs so
        that its collectives (the same blocks as the other ranks' pass) meet theirs."""
        token = torch.full((1, 1), self.specials.eot, dtype=torch.int64)
        at = torch.zeros(1, 2, dtype=torch.int64)
        rows = Rows(token, at)
        if self.encoder_decoder:
            rows = Rows(None if head == "contrastive" else token, at, token,
                        torch.ones(1, dtype=torch.int64))
        return pooled(model, rows, head, self.specials, device).sum() * 0.0


def pooled(model: torch.nn.Module, rows: Rows, head: str, specials: SpecialIds,
           device: torch.device) -> torch.Tensor:
    """``head`` of ``model`` (on ``device``) at ``rows.at``: ``[n, width]``. A decoder-only
    model's rows are kept apart by document masking (documents marked by ``specials``);
    an encoder-decoder's are whole rows, padding hidden by ``encoder_lengths``."""
    at = rows.at.to(device)
    if rows.encoder_tokens is None:
        tokens = rows.tokens.to(device)
        mask = attention_mask(tokens, prefix=None, document_mask=True, specials=specials)
        return model(tokens, mask, head=head, at=at)
    return model(None if rows.tokens is None else rows.tokens.to(device),
                 encoder_tokens=rows.encoder_tokens.to(device),
                 encoder_lengths=rows.encoder_lengths.to(device), head=head, at=at)
