"""Connected components of a duplicate graph, in memory: the per-group step of near dedup.

Algorithm: union-find (Tarjan 1975) with union by size and path halving, nearly linear in
the number of edges; afterwards each node is labelled with the smallest id in its
component. Labelling by the minimum id (not by the union-find root, which depends on the
order edges arrive in) makes the result a function of the edge *set* alone, so any runner
and any bundling give the same labels, the same ones a distributed min-label propagation
converges to.

Trade-off: every node of the input is held in memory, so this is for one group of
candidate edges (or a test oracle); the whole-corpus graph goes through the distributed
rounds.
"""

from __future__ import annotations

from collections.abc import Iterable


def connected_components(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
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
