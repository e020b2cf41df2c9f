"""Connected components of the duplicate graph as Beam transforms, for any number of nodes.

``edges | ConnectedComponents()`` labels every node with the smallest id of its component,
the labels ``dedup.components.connected_components`` gives in memory, by alternating the
large-star and small-star steps of ``dedup.components`` (Kiveris et al., SoCC 2014). Each
step is a GroupByKey on one endpoint of the edges followed by the pure per-node function,
so a worker holds one node's neighbourhood at a time (at most the largest component's ids,
at the component's smallest node), never the edge list, and nothing is collected on the
driver.

Beam has no loops, so the rounds are unrolled up to ``max_rounds``. Every large-star step
also counts the nodes not yet settled in a star around their component's smallest id, one
count per bundle; the counts reach the next step as a side input, and once there are none
the edges leave the loop (a converged graph is a fixed point of both steps), so the rounds
after convergence run on empty collections and cost only their scheduling. One more
large-star step after the last round checks the result: if any node is still unsettled the
pipeline fails with ``ClusteringDidNotConverge``, and the labels, which wait on that check,
are never written.

Usage::

    labels = edges | "Cluster" >> ConnectedComponents(max_rounds=32)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import AsList, AsSingleton, TaggedOutput
from apache_beam.transforms.window import GlobalWindows

from dedup.components import Edge, large_star, small_star

DEFAULT_MAX_ROUNDS = 32
"""Rounds unrolled by default. A chain whose ids ascend along it, the slowest shape found,
needs ``ceil(log2(n - 1))`` rounds for ``n`` nodes: 11 for 2,000, 18 for 200,000, 27 for
10^8. With random ids (ours are content hashes) a chain needs fewer (12 at 20,000, 15 at
200,000), random trees 5-9 and random graphs 5. Each unrolled round costs about 0.06 s of
scheduling on DirectRunner even after the graph has converged (two stages and a small
side input on a distributed runner)."""

_DONE = "done"
_UNSETTLED = "unsettled"


class ClusteringDidNotConverge(RuntimeError):
    """The unrolled rounds ended before every component became a star; nothing is labelled."""


def _both_ways(edge: Edge) -> Iterator[Edge]:
    """An edge in both directions, to be grouped under each endpoint; a self-loop offers no
    neighbour."""
    a, b = edge
    if a != b:
        yield a, b
        yield b, a


class _LargeStar(beam.DoFn):
    """``large_star`` on each node. Unsettled nodes are counted per bundle and the count goes
    to its own output once per bundle, so the side input the next step reads stays small."""

    def start_bundle(self):
        self._unsettled = 0

    def process(self, item: tuple[str, Iterable[str]]) -> Iterator[Edge]:
        step = large_star(*item)
        self._unsettled += not step.settled
        yield from step.edges

    def finish_bundle(self) -> Iterator[TaggedOutput]:
        if self._unsettled:
            yield TaggedOutput(_UNSETTLED, GlobalWindows.windowed_value(self._unsettled))


def _small_star(item: tuple[str, Iterable[str]]) -> Iterator[Edge]:
    for edge in small_star(*item):
        yield from _both_ways(edge)


def _route(edge: Edge, unsettled: list[int]) -> Iterator[Any]:
    """Edges of a converged graph (no bundle counted an unsettled node) leave the loop."""
    yield edge if unsettled else TaggedOutput(_DONE, edge)


def _require_converged(_, unsettled: list[int], max_rounds: int) -> bool:
    if unsettled:
        raise ClusteringDidNotConverge(
            f"connected components did not converge in {max_rounds} rounds "
            f"({sum(unsettled)} nodes unsettled); raise dedup.max_rounds")
    return True


def _labels(edge: Edge, converged: bool) -> tuple[tuple[str, str], tuple[str, str]]:
    """A star edge ``(leaf, centre)`` labels both ends with the centre."""
    del converged  # a side input only so that nothing is labelled before the check passes
    return (edge[0], edge[1]), (edge[1], edge[1])


def _isolated(edge: Edge) -> Iterator[tuple[str, str]]:
    """A self-loop's node labelled with itself, as it may have no other edge to carry it."""
    a, b = edge
    if a == b:
        yield a, a


class ConnectedComponents(beam.PTransform):
    """Label every node of an undirected graph with the smallest id in its component.

    Input: a PCollection of edges ``(a, b)`` between str ids, in the global window;
    repeats, both directions and self-loops (which declare a node) are fine. Output:
    ``(node, label)`` once for every node that appears in an edge, ``label`` the smallest id
    (string order) of its component. The labels depend on the edge set only, not on runner
    or bundling.

    Raises (when the pipeline runs):
        ClusteringDidNotConverge: ``max_rounds`` rounds did not turn every component into
            a star around its smallest id.
    """

    def __init__(self, max_rounds: int = DEFAULT_MAX_ROUNDS):
        """Unroll the rounds.

        Args:
            max_rounds: large-star/small-star rounds unrolled in the pipeline graph, at
                least 1. Each costs two GroupByKeys of the edges while the graph has not
                converged, and only scheduling afterwards; ``DEFAULT_MAX_ROUNDS`` covers a
                chain of 10^8 nodes.
        """
        super().__init__()
        if not isinstance(max_rounds, int) or max_rounds < 1:
            raise ValueError(f"max_rounds must be a positive int, got {max_rounds!r}")
        self._max_rounds = max_rounds

    def expand(self, edges):
        both_ways = edges | "BothWays" >> beam.FlatMap(_both_ways)
        done = []
        # NOTE: the loop runs one large-star step more than max_rounds: the last one only
        # checks that the graph it receives is already a forest of stars.
        for r in range(1, self._max_rounds + 2):
            large = (both_ways
                     | f"ByNode{r}" >> beam.GroupByKey()
                     | f"LargeStar{r}" >> beam.ParDo(_LargeStar()).with_outputs(
                         _UNSETTLED, main="edges"))
            unsettled = AsList(large[_UNSETTLED])
            if r > self._max_rounds:
                break
            routed = large.edges | f"Route{r}" >> beam.FlatMap(
                _route, unsettled).with_outputs(_DONE, main="edges")
            done.append(routed[_DONE])
            both_ways = (routed.edges
                         | f"ByLarger{r}" >> beam.GroupByKey()
                         | f"SmallStar{r}" >> beam.FlatMap(_small_star))
        converged = (edges.pipeline
                     | "Verdict" >> beam.Create([None])
                     | "RequireConvergence" >> beam.Map(
                         _require_converged, unsettled, self._max_rounds))
        stars = [*done, large.edges] | "Stars" >> beam.Flatten()
        labelled = stars | "Label" >> beam.FlatMap(_labels, AsSingleton(converged))
        isolated = edges | "Isolated" >> beam.FlatMap(_isolated)
        # A centre is labelled once per leaf, and a self-loop's node may sit in a larger
        # component: the smallest label per node is the one.
        return ((labelled, isolated)
                | "AllLabels" >> beam.Flatten()
                | "SmallestLabel" >> beam.CombinePerKey(min))
