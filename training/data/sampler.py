"""The mixture sampler: which packed sequence of which component is global sample ``i``.

It is a pure function of ``(seed, epoch, index)``: no RNG is carried between calls, so a run
resumed at any sample continues exactly where it stopped, on any number of ranks (as
streaming's ``shuffle/py1s.py`` keys its shuffle by ``seed + epoch``).

**Composition of a mixture epoch.** Each component ``c`` has ``n_c`` packed sequences and,
from the manifest, either a ``weight`` or an ``epochs`` value (exactly one). It contributes
``m_c`` samples to every mixture epoch:

- ``epochs`` given: ``m_c = round(epochs * n_c)`` (half up), i.e. that many passes over it.
- all components weighted: the epoch has as many samples as the weighted components have
  sequences, ``N = sum(n_c)``, shared in proportion to the weights (normalised, so they need
  not sum to 1): ``m_c = N * w_c / sum(w)``.
- mixed: a weight is the component's share of the *whole* epoch, so the weights must sum to
  ``W < 1``; the ``epochs`` components fill the other ``1 - W``. With ``E`` the samples of
  the ``epochs`` components, the weighted ones share ``round(E * W / (1 - W))`` samples in
  proportion to their weights.

Shares are turned into integers by largest remainder (ties to the earlier component), so
the counts sum exactly to their total and every epoch has exactly ``m_c`` samples of ``c``.
A weight of 0 or 0 epochs leaves a component out; a component with no full sequence (fewer
than ``seq_len + 1`` tokens) but a positive share is refused, as are weights ``>= 1`` next to
``epochs`` components and an empty epoch.

**Order within an epoch.** Component ``c`` owns slots ``[start_c, start_c + m_c)`` of the
epoch's ``N = sum(m_c)`` slots (components in manifest order). Sample ``i`` is in epoch
``e = i // N``; position ``i % N`` is mapped to a slot by a permutation of ``N`` seeded by
``(seed, e)``. Slot ``k`` of component ``c`` is repetition ``r = k // n_c``, position
``k % n_c``, mapped to a sequence by a permutation of ``n_c`` seeded by ``(seed, e, c, r)``
(``c`` by a hash of its name, so adding a component leaves the others' orders alone). So a
component with ``m_c <= n_c`` is sampled without replacement within an epoch, one with
``m_c = r * n_c`` sees each sequence exactly ``r`` times, and a partial repetition is a fresh
random subset.

Trade-off: permutations are materialised (8 bytes per slot or sequence) and memoised, which
is fast and simple up to tens of millions of sequences; beyond that an index-permuting
bijection (e.g. a Feistel network) would avoid the memory.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from shards import ManifestError


class MixtureError(ManifestError):
    """The components' weights/epochs cannot make a mixture epoch; one line for the user."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComponentSpec:
    """A mixture component as the sampler sees it.

    Attributes:
        name: component name (its hash seeds the component's permutations).
        sequences: number of packed sequences, ``n_c``.
        weight: share of the mixture epoch, or None when ``epochs`` is given.
        epochs: passes over the component per mixture epoch, or None when ``weight`` is.
    """

    name: str
    sequences: int
    weight: float | None
    epochs: float | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixturePlan:
    """How many samples each component gets per mixture epoch.

    Attributes:
        names: component names, in manifest order.
        sequences: ``n_c`` per component.
        counts: ``m_c`` per component (samples per mixture epoch).
    """

    names: tuple[str, ...]
    sequences: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def epoch_size(self) -> int:
        """Samples per mixture epoch, ``sum(counts)``."""
        return sum(self.counts)

    @functools.cached_property
    def starts(self) -> np.ndarray:
        """First slot of each component within an epoch, plus the epoch size at the end."""
        return np.concatenate([[0], np.cumsum(self.counts, dtype=np.int64)])

    def sha256(self) -> str:
        """Hash of names, sequence counts and sample counts; checkpoints record it."""
        text = json.dumps([self.names, self.sequences, self.counts], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _apportion(total: int, shares: Sequence[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``shares`` (largest remainder)."""
    scale = sum(shares)
    exact = [total * s / scale for s in shares]
    counts = [int(math.floor(x)) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[:total - sum(counts)]:
        counts[i] += 1
    return counts


def _check_spec(spec: ComponentSpec) -> None:
    if (spec.weight is None) == (spec.epochs is None):
        raise MixtureError(f"component {spec.name!r}: give exactly one of weight and epochs "
                           f"(got weight={spec.weight}, epochs={spec.epochs})")
    value = spec.weight if spec.weight is not None else spec.epochs
    what = "weight" if spec.weight is not None else "epochs"
    if not (math.isfinite(value) and value >= 0):
        raise MixtureError(f"component {spec.name!r}: {what} must be a finite number >= 0, "
                           f"got {value}")
    if spec.sequences < 0:
        raise MixtureError(f"component {spec.name!r}: negative sequence count")


def plan_mixture(specs: Sequence[ComponentSpec]) -> MixturePlan:
    """Apply the composition rule of the module docstring.

    Args:
        specs: the components, in manifest order.

    Returns:
        The plan with ``m_c`` per component.

    Raises:
        MixtureError: the spec is impossible (see the module docstring).
    """
    if not specs:
        raise MixtureError("the manifest has no components")
    for spec in specs:
        _check_spec(spec)
    counts = [0] * len(specs)
    weighted = [i for i, s in enumerate(specs) if s.weight is not None]
    by_epochs = [i for i, s in enumerate(specs) if s.epochs is not None]
    for i in by_epochs:
        counts[i] = _round_half_up(specs[i].epochs * specs[i].sequences)
    weights = [specs[i].weight for i in weighted]
    if weighted and sum(weights) > 0:
        if by_epochs:
            total_weight = sum(weights)
            if total_weight >= 1:
                raise MixtureError(
                    f"weights of {', '.join(specs[i].name for i in weighted)} sum to "
                    f"{total_weight:g}; next to components given by epochs "
                    f"({', '.join(specs[i].name for i in by_epochs)}) they must sum to < 1")
            fixed = sum(counts[i] for i in by_epochs)
            total = _round_half_up(fixed * total_weight / (1 - total_weight))
        else:
            total = sum(specs[i].sequences for i in weighted if specs[i].weight > 0)
        for i, count in zip(weighted, _apportion(total, weights)):
            counts[i] = count
    for spec, count in zip(specs, counts):
        if count > 0 and spec.sequences == 0:
            raise MixtureError(f"component {spec.name!r} has no full sequence at this "
                               f"data.seq_len (too few tokens) but a positive share")
    if sum(counts) == 0:
        raise MixtureError("the mixture epoch is empty (every component has a zero share)")
    return MixturePlan(names=tuple(s.name for s in specs),
                       sequences=tuple(s.sequences for s in specs),
                       counts=tuple(counts))


def token_plan(components: Sequence[Any]) -> MixturePlan:
    """The mixture rule applied to tokens instead of packed sequences: ``counts`` are the
    tokens a mixture epoch takes of each component (``sequences`` its tokens). For what is
    known before packing: passes per mixture epoch (``counts / sequences``) in the report,
    and each component's share of the mixture (``counts / epoch_size``) in another trainer's
    blend. ``components``: the manifest's ``ComponentEntry`` list.

    Raises:
        MixtureError: as ``plan_mixture``.
    """
    return plan_mixture([ComponentSpec(name=c.name, sequences=c.tokens, weight=c.weight,
                                       epochs=c.epochs) for c in components])


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


@functools.lru_cache(maxsize=4)
def _slot_permutation(seed: int, epoch: int, size: int) -> np.ndarray:
    rng = np.random.default_rng([seed, epoch, 0])
    return rng.permutation(size)


@functools.lru_cache(maxsize=256)
def _sequence_permutation(seed: int, epoch: int, name: str, repetition: int,
                          size: int) -> np.ndarray:
    rng = np.random.default_rng([seed, epoch, 1, _name_key(name), repetition])
    return rng.permutation(size)


def sample(plan: MixturePlan, seed: int, index: int) -> tuple[str, int]:
    """The component and sequence of global sample ``index``.

    Args:
        plan: the mixture plan (``plan_mixture``).
        seed: the run's seed (``data.seed``), >= 0.
        index: global sample index >= 0; epoch ``index // plan.epoch_size``.

    Returns:
        ``(component name, sequence index within that component)``.
    """
    if index < 0:
        raise IndexError(f"sample index must be >= 0, got {index}")
    epoch, position = divmod(index, plan.epoch_size)
    slot = int(_slot_permutation(seed, epoch, plan.epoch_size)[position])
    c = int(np.searchsorted(plan.starts, slot, side="right")) - 1
    repetition, k = divmod(slot - int(plan.starts[c]), plan.sequences[c])
    name = plan.names[c]
    order = _sequence_permutation(seed, epoch, name, repetition, plan.sequences[c])
    return name, int(order[k])


def component_epochs(plan: MixturePlan, seed: int, samples: int) -> dict[str, float]:
    """How many passes over each component the first ``samples`` samples made.

    Whole mixture epochs contribute ``counts[c]`` samples of component ``c`` each; within
    the current epoch, the slots drawn so far are counted from the epoch's permutation (one
    vectorised pass, done at logging time, not per sample).

    Args:
        plan: the mixture plan.
        seed: the run's seed.
        samples: samples drawn so far (``step * global_batch_size``).

    Returns:
        Component name -> passes over its sequences (e.g. 2.5: the third pass half done).
    """
    epoch, position = divmod(samples, plan.epoch_size)
    drawn = np.asarray(plan.counts, dtype=np.int64) * epoch
    if position:
        slots = _slot_permutation(seed, epoch, plan.epoch_size)[:position]
        owner = np.searchsorted(plan.starts, slots, side="right") - 1
        drawn += np.bincount(owner, minlength=len(plan.names))
    return {name: float(d) / n for name, d, n in zip(plan.names, drawn, plan.sequences)}


@dataclasses.dataclass(frozen=True)
class MixtureSampler:
    """A plan bound to a seed: ``sampler.sample(i)`` is ``sample(plan, seed, i)``."""

    plan: MixturePlan
    seed: int

    def sample(self, index: int) -> tuple[str, int]:
        """``(component, sequence index)`` of global sample ``index``."""
        return sample(self.plan, self.seed, index)
