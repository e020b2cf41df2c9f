"""Connected components of a duplicate graph: the in-memory reference and the per-node
steps of the distributed rounds.

In memory, ``connected_components`` runs union-find (Tarjan 1975) with union by size and
path halving, nearly linear in the number of edges; afterwards each node is labelled with
the smallest id in its component. Labelling by the minimum id (not by the union-find root,
which depends on the order edges arrive in) makes the result a function of the edge *set*
alone, so any runner and any bundling give the same labels. Every node of the input is held
in memory, so this is for one group of candidate edges, or the oracle of the distributed
version.

Distributed, the graph goes through alternating large-star and small-star steps (Kiveris,
Lattanzi, Mirrokni, Rastogi, Vassilvitskii, "Connected Components in MapReduce and Beyond",
SoCC 2014). Each step groups the edges by one endpoint and calls a pure function here on one
node and its neighbours; both steps keep every component connected and never add a node,
and together they turn each component into a star around its smallest id, after which every
edge is ``(node, label)``:

* ``large_star``: a node links each of its *larger* neighbours to the smallest id of its
  closed neighbourhood (itself included).
* ``small_star``: a node links each of its *smaller* neighbours, and itself, to the smallest
  of them.

The paper proves O(log² n) rounds (one large plus one small step) and observes O(log n):
a star takes at most one round, a chain of ``n`` nodes whose ids ascend along it
``ceil(log2(n - 1))`` (the slowest shape we found), random trees and graphs fewer.
Min-label propagation, the simpler alternative, needs as many rounds as the longest
shortest path (2,000 for a chain of 2,000 near duplicates). The price: the smallest node of
a component ends up with the whole component as its neighbourhood, so one group holds the
largest cluster's ids (not the corpus, not the edge list).

Edges leave both steps as ``(larger, smaller)`` pairs, already keyed for the next small-star
group. ``large_star`` also says whether its node is *settled*: a centre (all neighbours
larger) or a leaf (one neighbour, smaller). Every node is settled exactly when the graph is
a forest of stars around the smallest ids, which both steps leave as it is: the rounds have
converged, and the edges are the labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

Edge = tuple[str, str]
"""An edge between two document ids; between star steps always ``(larger, smaller)``."""


def connected_components(edges: Iterable[Edge]) -> dict[str, str]:
    """Label every node with the smallest id in its connected component.

    Args:
        edges: undirected edges between document ids; repeats, both directions and
            self-loops (``(a, a)``, which just declares a node) are all fine.

    Returns:
        Node id to its component's smallest id (by Python string order), for every node
        that appears in ``edges``; a component's smallest node maps to itself.
    """
    parent: dict[str, str] = {}
    size: dict[str, int] = {}
    smallest: dict[str, str] = {}  # valid at roots only

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving: skip to the grandparent
            x = parent[x]
        return x

    for a, b in edges:
        for x in (a, b):
            if x not in parent:
                parent[x], size[x], smallest[x] = x, 1, x
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        smallest[ra] = min(smallest[ra], smallest[rb])
    return {x: smallest[find(x)] for x in parent}


class StarStep(NamedTuple):
    """What one node emits in a large-star step."""

    edges: list[Edge]
    """New edges, each ``(larger, smaller)``; may repeat edges other nodes emit."""
    settled: bool
    """Whether the node already sits in a star around its component's smallest id: all its
    neighbours are larger (a centre), or it has one neighbour and that is smaller (a leaf)."""


def large_star(node: str, neighbours: Iterable[str]) -> StarStep:
    """Link every neighbour larger than ``node`` to the smallest id around ``node``.

    Args:
        node: the group's key.
        neighbours: every node sharing an edge with ``node`` (both directions of each edge
            grouped by endpoint); repeats are fine, ``node`` itself is ignored.

    Returns:
        ``(v, m)`` for each distinct neighbour ``v > node``, with ``m`` the smallest of
        ``node`` and its neighbours, and whether ``node`` is settled. When every node is,
        the output is the input (a centre emits its edges as they came, a leaf nothing).
    """
    distinct = set(neighbours)
    distinct.discard(node)
    smallest = min(min(distinct, default=node), node)
    larger = [v for v in distinct if v > node]
    # A centre has only larger neighbours; a leaf one smaller neighbour and nothing else.
    settled = smallest == node or len(distinct) == 1
    return StarStep([(v, smallest) for v in larger], settled)


def small_star(node: str, smaller: Iterable[str]) -> list[Edge]:
    """Link ``node`` and every neighbour smaller than it to the smallest of those neighbours.

    Args:
        node: the group's key.
        smaller: the neighbours of ``node`` that are smaller than it (each edge grouped by
            its larger endpoint), at least one; repeats are fine.

    Returns:
        ``(v, m)`` for ``node`` and each distinct smaller neighbour ``v`` other than ``m``,
        the smallest neighbour.
    """
    distinct = set(smaller)
    smallest = min(distinct)
    distinct.discard(smallest)
    return [(node, smallest)] + [(v, smallest) for v in distinct]
