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
and a backward after the generation one; a rank without complete pairs runs them on a
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
    """Sequences for a pooled pass.

    Attributes:
        tokens: int64 ``[rows, width]`` token ids.
        at: int64 ``[n, 2]``: ``(row, position)`` of each pooled EOT.
    """

    tokens: torch.Tensor
    at: torch.Tensor


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
    ``contrastive_rows``), in order."""
    texts = [inputs[r, a:b] for r, a, b, _, _ in pairs]
    codes = [inputs[r, a:b] for r, _, _, a, b in pairs]
    return texts, codes


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
    couples = list(zip(range(len(texts)), codes)) + list(enumerate(negatives))
    rows: list[list[np.ndarray]] = []
    at, used = [], seq
    for i, code in couples:
        # A true pair always fits (it fitted its window); a negative may need its code cut.
        piece = np.r_[texts[i], specials.sep, code[:seq - len(texts[i]) - 2], specials.eot]
        if used + len(piece) > seq:
            rows.append([])
            used = 0
        rows[-1].append(piece)
        used += len(piece)
        at.append((len(rows) - 1, used - 1))
    width = max(sum(map(len, row)) for row in rows)
    tokens = np.full((len(rows), width), specials.eot, dtype=np.int64)
    for r, row in enumerate(rows):
        joined = np.concatenate(row)
        tokens[r, :len(joined)] = joined
    labels = np.r_[np.ones(len(texts)), np.zeros(len(negatives))].astype(np.float32)
    pair_of = np.array([i for i, _ in couples], dtype=np.int64)
    return Rows(torch.from_numpy(tokens), torch.tensor(at, dtype=torch.int64)), labels, pair_of


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
    """

    generation: float
    contrastive: float
    matching: float
    temperature: float
    embedding_dim: int
    specials: SpecialIds
    group: int
    first: int

    @classmethod
    def for_run(cls, cfg: ObjectivesConfig, objectives: Sequence[str],
                specials: SpecialIds) -> BimodalLoss | None:
        """The passes of a run whose batch groups are ``objectives``
        (``MixtureLoader.objective_names``), or None when none of them has pairs."""
        paired = [g for g, name in enumerate(objectives) if name in PAIR_OBJECTIVES]
        if not paired:
            return None
        return cls(generation=cfg.bimodal_generation, contrastive=cfg.bimodal_contrastive,
                   matching=cfg.bimodal_matching, temperature=cfg.contrastive_temperature,
                   embedding_dim=cfg.bimodal_embedding_dim, specials=specials, group=paired[0],
                   first=metric_names(objectives).index(CONTRASTIVE))

    def weigh(self, losses: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """Sequence losses ``[batch]`` with the bimodal rows' (``group``) weighted."""
        if self.generation == 1.0:
            return losses
        return losses * torch.where(group == self.group, self.generation, 1.0)

    def accumulate(self, model: torch.nn.Module, batch: Batch, *, step_pairs: torch.Tensor,
                   last: bool, losses: GroupLosses, device: torch.device) -> torch.Tensor:
        """The contrastive and matching passes over one paired micro-batch: forward and
        backward each; collective.

        Args:
            model: the (FSDP-sharded) model, with bimodal heads.
            batch: this rank's part of the micro-batch as the loader made it (on the CPU:
                the rows are built there), ``pairs`` not None.
            step_pairs: pairs in all micro-batches of the step on all ranks (the losses are
                means per pair over the step), a scalar tensor, at least 1.
            last: this is the step's last micro-batch: the last backward reduces gradients.
            losses: the trainer's groups (``metric_names``); this rank's pairs' contrastive
                loss, matching loss and accuracy are added.
            device: where the model is.

        Returns:
            This rank's share of the step's weighted contrastive and matching loss (its
            pairs' terms; detached scalar): the shares of all ranks add up to the step's.
        """
        inputs, pairs = batch.inputs.numpy(), batch.pairs.numpy()
        count = len(pairs)
        counts = gather_counts(count, device)
        first = sum(counts[:dist.get_rank()])
        mine = slice(first, first + count)
        # FSDP averages gradients over ranks and each rank's gradient is its share of the
        # whole loss: scaling by the world size makes the average their sum.
        scale = dist.get_world_size() / step_pairs
        negatives = np.zeros(0, np.int64)
        # Every rank runs its forward (a stand-in without pairs) before the gather: FSDP's
        # collectives and the gather's must come in the same order on all ranks.
        if count:
            embeddings = self._pooled(model, contrastive_rows(inputs, pairs, self.specials),
                                      "contrastive", device).float()
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
        set_gradient_sync(model, last and not self.matching)
        (self.contrastive * contrastive).backward()
        total = torch.zeros((), device=device)
        if count:
            own = per_pair[mine].detach().sum()
            total = self.contrastive * own / step_pairs
            losses.add(torch.tensor([self.first], device=device), own[None],
                       torch.tensor([count], device=device))
        if not self.matching:
            return total
        texts, codes = pair_sides(inputs, pairs)
        every_code = gather_codes(codes) if len(negatives) else []
        if count:
            rows, labels, pair_of = matching_rows(
                texts, codes, [every_code[j] for j in negatives[mine]], inputs.shape[1],
                self.specials)
            logits = self._pooled(model, rows, "matching", device).squeeze(-1)
            labels = torch.from_numpy(labels).to(device)
            per_pair = matching_loss(logits, labels, torch.from_numpy(pair_of).to(device),
                                     count)
            matching = per_pair.sum() * scale
        else:
            matching = self._stand_in(model, "matching", device)
        set_gradient_sync(model, last)
        (self.matching * matching).backward()
        if count:
            right = ((logits.detach() > 0).float() == labels).sum()
            losses.add(torch.tensor([self.first + 1, self.first + 2], device=device),
                       torch.stack([per_pair.detach().sum(), right]),
                       torch.tensor([count, len(labels)], device=device))
            total = total + self.matching * per_pair.detach().sum() / step_pairs
        return total

    def _pooled(self, model: torch.nn.Module, rows: Rows, head: str,
                device: torch.device) -> torch.Tensor:
        tokens = rows.tokens.to(device)
        mask = attention_mask(tokens, prefix=None, document_mask=True, specials=self.specials)
        return model(tokens, mask, head=head, at=rows.at.to(device))

    def _stand_in(self, model: torch.nn.Module, head: str,
                  device: torch.device) -> torch.Tensor:
        """A zero loss through ``head`` on one token: the pass a rank without pairs runs so
        that its collectives meet the other ranks'."""
        token = torch.full((1, 1), self.specials.eot, dtype=torch.int64, device=device)
        return model(token, head=head, at=torch.zeros(1, 2, dtype=torch.int64,
                                                      device=device)).sum() * 0.0
