"""MinHash signatures of shingle-hash sets in O(n + k log k) numpy work, and Jaccard.

What a signature is: ``k = num_perm`` slots; slot ``i`` holds the element of the set that
minimises an independent random value ``V_i(x)``. For two sets a slot agrees exactly when the
minimiser over their union lies in their intersection, which happens with probability their
Jaccard similarity ``J``, independently across slots; the fraction of agreeing slots is an
unbiased estimate with standard error ``sqrt(J(1-J)/k)`` (0.031 at most for ``k = 256``).
This is the distribution of classic k-permutation MinHash (Broder 1997; what datasketch
computes), reached without touching every (element, slot) pair.

How (Dahlgaard, Knudsen & Thorup, "Fast Similarity Sketching", FOCS 2017; Ertl,
"ProbMinHash", IEEE TKDE 2020, which generates each element's values in increasing order):
give every element a Poisson process of *events*, each landing in a uniformly random slot;
``V_i(x)`` is the time of ``x``'s first event in slot ``i``. By Poisson thinning these are
independent exponentials, exactly as if each slot had its own permutation. Slot ``i`` keeps
the earliest event over all elements. Event ``r`` of element ``x`` is the 64-bit value
``z_0 = x * M`` for ``r = 0`` (multiply-shift hashing; ``x`` is already a uniform 64-bit
hash) and ``z_r = fmix64(z_0 + r * G)`` after it (a SplitMix64-style stream). Read as a
fraction of ``k``, its top 53 bits give the slot (integer part) and a uniform ``u``
(fractional part), and the gap to the previous event is ``-ln(1 - u)``. ``M = fmix64(seed *
G) | 1`` is all the randomness: the same ``seed`` gives the same signatures in every process
and on every machine.

1. Every element's first event at once (a few passes over the set, ``chunk`` elements at a
   time so memory stays bounded).
2. Once every slot of a set holds an event, an element whose latest event is later than the
   set's latest slot minimum can change nothing and is dropped. For sets much larger than
   ``k ln k`` (~1,400 for ``k = 256``) about ``k ln k`` elements survive step 1 and need a
   single further event each; small sets draw several events per element until every slot
   holds one and no element can improve a slot (``~k ln k`` events whatever the set size).
   Each round, an element draws about as many events as its set's latest slot minimum lies
   ahead of it (one event per unit of time); rounds repeat until no element is left.

Batches: ``signatures`` runs these steps for many sets in the same numpy calls, each event
addressed to slot ``set * k + slot`` of one array; ``signature`` is a batch of one. A set's
signature does not depend on the batch it is in: an event's time is the sum of its element's
gaps, kept as an integer in units of ``2**-48`` (a float sum would round differently
depending on how the events are split into rounds), so it is the same however the rounds and
the batch fall, and a slot's earliest event is the same event.

Trade-off: the work is ``n`` element hashes plus ``O(k log k)`` events instead of datasketch's
``n * k`` affine permutations, so 256 slots cost about as much as a few; the price is that
signatures differ from datasketch's (same estimator, same error, different random values),
and ~1,500-2,000 events per set (~25 ns each in a batch), which dominate for files under
~10 KB. Unlike one-permutation hashing with densification, small sets keep the full
``k``-permutation accuracy. Gaps are rounded down to ``2**-48``; two events of one slot closer
than that (or than a difference between two machines' ``log1p``) could be ordered differently,
a chance of order ``2**-40`` per slot. A slot's stored value is the low 32 bits of its winning
``z`` (``np.uint32``, 1 KiB per 256 slots): slots of two sets agree by accident with
probability ``2**-32``.

Memory: a batch holds about 40 bytes per element and 4 KiB per set (for ``k = 256``), plus
temporaries of about 100 bytes per element or event for ``chunk`` events and ``_SLICE *
chunk`` elements at a time (a few MiB); the caller bounds the batch, e.g. by the bytes of text behind it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from dedup.shingles import fmix64

EMPTY = np.uint32(0xFFFFFFFF)
"""Every slot of the signature of an empty set (which has no minimiser)."""

_CHUNK = 1 << 14
"""Elements (step 1) or events (step 2) handled at a time: keeps the temporaries (~1.5 MiB)
in cache; the fastest size here (2**12 and 2**16 were 5-15% slower)."""

_SLICE = 4
"""Step 2 settles ``_SLICE * chunk`` elements at a time: fewer rounds of numpy calls than
``chunk`` alone, temporaries still bounded."""

_TIME_SCALE = 2.0**48
"""Event times are integers in units of ``1 / _TIME_SCALE``: exact sums in any order. A gap
is below 37 units of time and a set's slots fill within a few thousand, far below 2**16."""

_UNSET = np.uint64(0xFFFFFFFFFFFFFFFF)
"""A slot no event has landed in yet: its time (later than any event) and its ``z`` (which
the signature's low 32 bits turn into ``EMPTY``)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _slots(z: np.ndarray, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """Each event's slot in ``[0, num_perm)`` and its ``u`` in [0, 1) inside the slot.

    ``z``'s top 53 bits as a fraction of ``num_perm``: the integer part is the slot, the
    fractional part ``u`` (``53 - log2(num_perm)`` random bits) is independent of it.
    """
    # NOTE: z >> 11 < 2**53 is exact as int64 and float64; int64 converts faster than uint64.
    position = (z >> np.uint64(11)).view(np.int64).astype(np.float64) * (num_perm * 2.0**-53)
    slot = np.floor(position)
    return slot.astype(np.intp), position - slot


def _gaps(u: np.ndarray) -> np.ndarray:
    """The exponential gap ``-ln(1 - u)`` before each event, in integer units of time.

    ``u`` is overwritten (it is a temporary everywhere, and this saves allocations).
    """
    np.log1p(np.negative(u, out=u), out=u)
    u *= -_TIME_SCALE
    # NOTE: below 2**54, so the float is exact as int64, which converts faster than uint64.
    return u.astype(np.int64).view(np.uint64)


@functools.lru_cache(maxsize=4)
def _steps(chunk: int) -> np.ndarray:
    """``r * G`` for ``r`` in ``[0, chunk)``: the stream offsets of a slice's events."""
    return np.arange(chunk, dtype=np.uint64) * _GOLDEN


def _record(win_time: np.ndarray, win_z: np.ndarray, key: np.ndarray, time: np.ndarray,
            z: np.ndarray) -> None:
    """Let each event take its slot ``key`` (``set * k + slot``) where it is the earliest."""
    np.minimum.at(win_time, key, time)
    won = np.flatnonzero(time == win_time[key])  # indices: faster than a boolean mask here
    win_z[key[won]] = z[won]


def _first_events(base: np.ndarray, owner: np.ndarray, num_perm: int, chunk: int,
                  win_time: np.ndarray, win_z: np.ndarray) -> np.ndarray:
    """Step 1: record every element's first event, ``z_0`` itself; return its time.

    Args:
        base: every element's ``z_0``.
        owner: the index of each element's set.
        num_perm: slots per set.
        chunk: elements handled at a time.
        win_time: every set's slots' earliest event times, ``(sets * num_perm,)``; updated.
        win_z: the ``z`` of those events; updated.
    """
    time = np.empty(len(base), np.uint64)
    for lo in range(0, len(base), chunk):
        z = base[lo:lo + chunk]
        slot, u = _slots(z, num_perm)
        time[lo:lo + chunk] = _gaps(u)
        slot += owner[lo:lo + chunk] * num_perm
        _record(win_time, win_z, slot, time[lo:lo + chunk], z)
    return time


def _draw(base: np.ndarray, time: np.ndarray, drawn: np.ndarray, count: np.ndarray,
          owner: np.ndarray, num_perm: int, chunk: int, win_time: np.ndarray,
          win_z: np.ndarray) -> np.ndarray:
    """Record the next ``count`` events of each element; return each one's latest time.

    Args:
        base: each element's ``z_0``.
        time: each element's latest event time so far.
        drawn: events each element has drawn so far (at least 1), so its next is event
            number ``drawn``.
        count: events to draw per element, at least 1 each, at most ``chunk`` in all.
        owner: the index of each element's set.
        num_perm: slots per set.
        chunk: as in ``signatures``.
        win_time: as in ``_first_events``; updated.
        win_z: as in ``_first_events``; updated.
    """
    ends = np.cumsum(count)
    starts = ends - count
    # Event j of the flat list is event number r = drawn + (j - start) of its element.
    z = np.repeat(base + (drawn - starts).view(np.uint64) * _GOLDEN, count)
    z += _steps(chunk)[:len(z)]  # z_0 + r * G, (events,)
    z = fmix64(z)
    slot, u = _slots(z, num_perm)
    gaps = _gaps(u)
    # Each element's times are its latest time plus the running sum of its own gaps; the
    # running sum over all events minus the sum before the element's first one is exact
    # (integers wrap around, the differences do not).
    event_time = np.cumsum(gaps)
    event_time += np.repeat(time - (event_time[starts] - gaps[starts]), count)
    slot += np.repeat(owner * num_perm, count)
    _record(win_time, win_z, slot, event_time, z)
    return event_time[ends - 1]


def _event_counts(time: np.ndarray, owner: np.ndarray, latest: np.ndarray,
                  slots: np.ndarray, num_perm: int, chunk: int) -> np.ndarray:
    """How many events each element draws next: about as many as may still beat a slot.

    Events come one per unit of time, so an element of a set whose slots all hold an event
    draws as many as its set's latest slot minimum lies ahead of it. In a set with empty
    slots, ``m`` elements fill one of ``e`` empty slots about every ``k / (m e)`` units of
    time, all of them after about ``(k / m)(ln e + 1)``: each element draws that many.

    Args:
        time: each element's latest event time.
        owner: the index of each element's set in ``slots``.
        latest: each element's set's latest slot minimum, ``_UNSET`` while a slot is empty.
        slots: the sets' slots' earliest event times, ``(sets, num_perm)``.
        num_perm: slots per set.
        chunk: the most events one element may draw.

    Returns:
        ``np.intp`` counts in ``[1, chunk]``.
    """
    # Negative where a set has an empty slot (latest is _UNSET): filling decides there.
    ahead = (latest - time).view(np.int64) * (1 / _TIME_SCALE)
    unfilled = np.unique(owner[latest == _UNSET])
    if len(unfilled):
        members = np.bincount(owner, minlength=len(slots))[unfilled]
        empty = np.count_nonzero(slots[unfilled] == _UNSET, axis=1)
        filling = np.zeros(len(slots))
        filling[unfilled] = num_perm / members * (np.log(empty) + 1)
        np.maximum(ahead, filling[owner], out=ahead)
    np.ceil(ahead, out=ahead)
    return np.clip(ahead, 1, chunk, out=ahead).astype(np.intp)


def _settle(base: np.ndarray, time: np.ndarray, owner: np.ndarray, num_perm: int,
            chunk: int, win_time: np.ndarray, win_z: np.ndarray) -> None:
    """Let elements draw events, in rounds, until none can improve a slot of its set.

    Args:
        base: each element's ``z_0``.
        time: each element's first event time.
        owner: the index of each element's set, non-decreasing.
        num_perm: slots per set.
        chunk: events drawn at a time.
        win_time: as in ``_first_events``; updated.
        win_z: as in ``_first_events``; updated.
    """
    slots = win_time.reshape(-1, num_perm)[owner[0]:owner[-1] + 1]  # (sets here, num_perm)
    local = owner - owner[0]
    drawn = np.ones(len(base), np.intp)
    while True:
        latest = slots.max(axis=1)[local]
        undecided = np.flatnonzero(time < latest)  # indices: faster than a boolean mask
        if not len(undecided):
            return
        base, time, owner, local, drawn, latest = (
            a[undecided] for a in (base, time, owner, local, drawn, latest))
        count = _event_counts(time, local, latest, slots, num_perm, chunk)
        # Elements [lo, hi) draw at most ``chunk`` events between them (one element at least).
        ends = np.cumsum(count)
        lo = 0
        while lo < len(base):
            hi = max(lo + 1, int(np.searchsorted(ends, ends[lo] - count[lo] + chunk, "right")))
            time[lo:hi] = _draw(base[lo:hi], time[lo:hi], drawn[lo:hi], count[lo:hi],
                                owner[lo:hi], num_perm, chunk, win_time, win_z)
            lo = hi
        drawn += count


def _later_events(base: np.ndarray, time: np.ndarray, owner: np.ndarray, num_perm: int,
                  chunk: int, win_time: np.ndarray, win_z: np.ndarray) -> None:
    """Step 2, ``_SLICE * chunk`` elements at a time so that the temporaries stay bounded.

    A set whose elements straddle two slices is settled in two parts; the second starts
    from the slots the first left, so it draws no more events than if it came whole.

    Args:
        base: every element's ``z_0``.
        time: every element's first event time.
        owner: the index of each element's set, non-decreasing.
        num_perm: slots per set.
        chunk: events drawn at a time; bounds memory, never changes the result.
        win_time: as in ``_first_events``; updated.
        win_z: as in ``_first_events``; updated.
    """
    step = _SLICE * chunk
    for lo in range(0, len(base), step):
        _settle(base[lo:lo + step], time[lo:lo + step], owner[lo:lo + step], num_perm,
                chunk, win_time, win_z)


@functools.lru_cache(maxsize=64)
def _multiplier(seed: int) -> np.uint64:
    """The odd 64-bit multiplier all of a seed's random values derive from."""
    return fmix64(np.array([seed], np.uint64) * _GOLDEN)[0] | np.uint64(1)


def signatures(hash_sets: Sequence[np.ndarray], num_perm: int = 256, seed: int = 1, *,
               chunk: int = _CHUNK) -> np.ndarray:
    """The MinHash signatures of many sets of 64-bit shingle hashes, in one set of numpy calls.

    Equal, row by row, to ``signature`` of each set; much faster on many small sets.

    Args:
        hash_sets: the sets, as from ``dedup.shingles.shingle_hashes_batch`` (1-D
            ``np.uint64`` arrays); repeats and order inside a set do not matter. The caller
            bounds the batch's memory (see the module docstring).
        num_perm: signature length ``k``; default 256. The estimate's error shrinks as
            ``1/sqrt(k)``; the cost grows as ``k log k``, small beside hashing the text.
            Must equal the ``num_perm`` given to ``dedup.lsh.optimal_params``.
        seed: chooses the random values (see the module docstring); signatures are
            comparable only under the same ``num_perm`` and ``seed``.
        chunk: elements or events handled at a time; bounds memory, never changes the
            result.

    Returns:
        A ``np.uint32`` array of shape ``(len(hash_sets), num_perm)``: row ``i`` is the
        signature of set ``i``, all ``EMPTY`` for an empty set.

    Raises:
        ValueError: ``num_perm`` or ``chunk`` is below 1.
    """
    if num_perm < 1:
        raise ValueError(f"num_perm must be at least 1, got {num_perm}")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    sets = [np.asarray(hashes, np.uint64) for hashes in hash_sets]
    win_time = np.full(len(sets) * num_perm, _UNSET)
    win_z = np.full(len(sets) * num_perm, _UNSET)
    if any(len(hashes) for hashes in sets):
        hashes = np.concatenate(sets)
        owner = np.repeat(np.arange(len(sets)), [len(h) for h in sets])
        base = hashes * _multiplier(seed)
        time = _first_events(base, owner, num_perm, chunk, win_time, win_z)
        _later_events(base, time, owner, num_perm, chunk, win_time, win_z)
    # (sets, num_perm); the low 32 bits of each winning z
    return win_z.reshape(len(sets), num_perm).astype(np.uint32)


def signature(hashes: np.ndarray, num_perm: int = 256, seed: int = 1, *,
              chunk: int = _CHUNK) -> np.ndarray:
    """The MinHash signature of a set of 64-bit shingle hashes.

    A batch of one: see ``signatures`` for many sets.

    Args:
        hashes: the set, as from ``dedup.shingles.shingle_hashes`` (1-D ``np.uint64``);
            repeats and order do not matter.
        num_perm: signature length ``k``; default 256 (see ``signatures``).
        seed: chooses the random values (see ``signatures``).
        chunk: elements or events handled at a time; bounds memory, never changes the
            result.

    Returns:
        A 1-D ``np.uint32`` array of length ``num_perm``; all ``EMPTY`` for an empty set.

    Raises:
        ValueError: ``num_perm`` or ``chunk`` is below 1.
    """
    return signatures([hashes], num_perm, seed, chunk=chunk)[0]


def jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Estimated Jaccard similarity: the fraction of slots where two signatures agree.

    Args:
        sig_a: a signature from ``signature``.
        sig_b: another, made with the same ``num_perm`` and ``seed``.

    Returns:
        A value in ``[0, 1]``; unbiased, standard error ``sqrt(J(1-J)/num_perm)``.

    Raises:
        ValueError: the signatures differ in length.
    """
    if len(sig_a) != len(sig_b):
        raise ValueError(f"signatures differ in length: {len(sig_a)} != {len(sig_b)}")
    return float(np.count_nonzero(np.asarray(sig_a) == np.asarray(sig_b))) / len(sig_a)


def exact_jaccard(hashes_a: np.ndarray, hashes_b: np.ndarray) -> float:
    """Exact Jaccard similarity of two shingle-hash sets, to verify candidate pairs.

    Args:
        hashes_a: a sorted array of distinct hashes (``shingle_hashes`` output).
        hashes_b: another.

    Returns:
        ``|A ∩ B| / |A ∪ B|`` in ``[0, 1]``; 0.0 when both are empty, since texts without
        shingles carry no evidence of being near duplicates (exact dedup handles them).
        Costs ``O(min * log max)`` of the two sizes.
    """
    small, large = sorted((hashes_a, hashes_b), key=len)
    if len(small) == 0:
        return 0.0
    at = np.minimum(np.searchsorted(large, small), len(large) - 1)
    common = int(np.count_nonzero(large[at] == small))
    return common / (len(small) + len(large) - common)
