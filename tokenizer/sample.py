"""The tokenizer's training sample: documents shared among components as training mixes them.

A tokenizer should be trained on text distributed like the text the model trains on, or it
spends its vocabulary on what is seldom seen (a large, lightly weighted component) and
splits what is seen most (a small, upweighted one) into many tokens. So the sample follows
the mixture, in three steps, all deterministic:

1. **Shares.** Each component's share of the training tokens, by the trainer's mixture
   rule (``training/data/sampler.py``): a component given ``epochs`` contributes ``epochs *
   size``; with only weights, the weights share the whole corpus; next to ``epochs``
   components, weights are shares of the whole mixture (they sum to ``W < 1`` and the
   ``epochs`` components fill ``1 - W``). Sizes are characters, since tokens are not known
   before the tokenizer is: the shares are exact if every component has the same
   characters per token, and near enough for code and prose.
2. **Quotas.** ``n = min(sample_docs, documents in the corpus)`` documents are apportioned
   (largest remainder) so that each component's sampled characters, counting at most
   ``sample_chars`` per document, follow its share: a component of long files gets fewer
   documents than one of short docstrings for the same share.
3. **Documents.** Within a component, documents are taken in the order of a hash of their
   id. A quota above the component's document count takes every document ``quota // docs``
   times and the first ``quota % docs`` once more, as the trainer repeats a small,
   upweighted component.

Trade-off: repeating a document raises its pairs' counts, as training on it repeatedly
will; it also lets its rare pairs pass ``min_frequency``, which a single copy would not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence


@dataclasses.dataclass(frozen=True)
class ComponentSize:
    """How much text a component has.

    Attributes:
        docs: documents.
        chars: characters over all documents.
        capped_chars: characters counting at most ``sample_chars`` per document (what a
            sampled document contributes).
    """

    docs: int
    chars: int
    capped_chars: int


@dataclasses.dataclass(frozen=True)
class ComponentMix:
    """A component's place in the mixture: exactly one of ``weight`` and ``epochs``."""

    weight: float | None
    epochs: float | None


@dataclasses.dataclass(frozen=True)
class ComponentTake:
    """How often each document of one component enters the sample.

    Attributes:
        copies: times every document is taken.
        cutoff: documents whose key is at most this are taken once more; None for none.
    """

    copies: int
    cutoff: bytes | None

    def count(self, key: bytes) -> int:
        """Copies of the document whose sample key is ``key``."""
        return self.copies + (self.cutoff is not None and key <= self.cutoff)


def mixture_shares(sizes: Mapping[str, int], mix: Mapping[str, ComponentMix]) -> dict[str, float]:
    """Each component's share of the training tokens, by the trainer's mixture rule.

    Args:
        sizes: component -> its size (characters; any unit shared by all components).
        mix: component -> its weight or epochs; every component of ``sizes``.

    Returns:
        Component -> share in [0, 1]; the shares sum to 1, or are all 0 when the corpus is
        empty.
    """
    by_epochs = {c: mix[c].epochs * n for c, n in sizes.items() if mix[c].epochs is not None}
    weights = {c: mix[c].weight for c in sizes if mix[c].weight is not None}
    if by_epochs:
        # Next to epochs components, a weight is a share of the whole mixture (W < 1).
        rest = sum(by_epochs.values()) / (1 - sum(weights.values()))
        mass = {**by_epochs, **{c: rest * w for c, w in weights.items()}}
    else:
        total, scale = sum(sizes.values()), sum(weights.values())
        mass = {c: total * w / scale for c, w in weights.items()}
    whole = sum(mass.values())
    return {c: mass[c] / whole if whole else 0.0 for c in sizes}


def quotas(sizes: Mapping[str, ComponentSize], shares: Mapping[str, float],
           sample_docs: int) -> dict[str, int]:
    """Documents to sample per component, so sampled characters follow ``shares``.

    Args:
        sizes: component -> its size.
        shares: component -> share of the training tokens (``mixture_shares``).
        sample_docs: most documents in the sample; fewer when the corpus has fewer.

    Returns:
        Component -> documents (with repeats); they sum to ``min(sample_docs, all docs)``.
    """
    # Documents per unit of share: the inverse of the mean sampled length.
    per_share = {c: shares[c] * s.docs / s.capped_chars if s.capped_chars else 0.0
                 for c, s in sizes.items()}
    total = min(sample_docs, sum(s.docs for s in sizes.values()))
    return dict(zip(per_share, _apportion(total, list(per_share.values()))))


def plan_sample(sizes: Mapping[str, ComponentSize], mix: Mapping[str, ComponentMix],
                lowest: Mapping[str, Sequence[bytes]],
                sample_docs: int) -> dict[str, ComponentTake]:
    """How each component's documents enter the sample (see the module docstring).

    Args:
        sizes: component -> its size; components without documents may be left out.
        mix: component -> its weight or epochs.
        lowest: component -> the smallest sample keys of its documents, at least
            ``min(sample_docs, docs)`` of them.
        sample_docs: most documents in the sample.

    Returns:
        Component -> its ``ComponentTake``, for every component of ``sizes``.
    """
    shares = mixture_shares({c: s.chars for c, s in sizes.items()}, mix)
    plan = {}
    for name, quota in quotas(sizes, shares, sample_docs).items():
        copies, extra = divmod(quota, sizes[name].docs) if sizes[name].docs else (0, 0)
        plan[name] = ComponentTake(copies, sorted(lowest[name])[extra - 1] if extra else None)
    return plan


def _apportion(total: int, shares: Sequence[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``shares`` (largest remainder, ties
    to the earlier); all zeros when every share is 0."""
    scale = sum(shares)
    if not scale:
        return [0] * len(shares)
    exact = [total * s / scale for s in shares]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[:total - sum(counts)]:
        counts[i] += 1
    return counts
