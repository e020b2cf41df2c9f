"""pipelines.clustering: ConnectedComponents gives exactly the union-find labels on DirectRunner.

Edges are fed from a text file (ReadFromText is much faster than beam.Create here).
"""

from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from dedup.components import connected_components
from pipelines.clustering import ClusteringDidNotConverge, ConnectedComponents

ROUNDS = 8
"""Enough for every graph here but the chain (stars 1, small clusters 1, random graphs 5);
fewer unrolled rounds keep the tests fast."""


def _edges(p, tmp_path, edges: list[tuple[str, str]]):
    path = tmp_path / "edges.txt"
    path.write_text("".join(f"{a} {b}\n" for a, b in edges))
    return (p
            | "Read" >> beam.io.ReadFromText(str(path))
            | "Split" >> beam.Map(_edge))


def _edge(line: str) -> tuple[str, str]:
    """One ``a b`` line as an edge (typed: Beam checks it against the transform's input)."""
    a, b = line.split()
    return a, b


def _check(tmp_path, edges: list[tuple[str, str]], max_rounds: int = ROUNDS) -> None:
    expected = list(connected_components(edges).items())
    with TestPipeline() as p:
        labels = _edges(p, tmp_path, edges) | ConnectedComponents(max_rounds)
        assert_that(labels, equal_to(expected))


def _chain(n: int) -> list[tuple[str, str]]:
    """Ids ascending along the chain: the slowest shape, ceil(log2 n) rounds."""
    return [(f"d{i:04d}", f"d{i + 1:04d}") for i in range(n - 1)]


def test_chain_of_2000_gives_one_component_within_the_default_rounds(tmp_path):
    edges = _chain(2000)
    expected = [(f"d{i:04d}", "d0000") for i in range(2000)]
    with TestPipeline() as p:
        labels = _edges(p, tmp_path, edges) | ConnectedComponents()
        assert_that(labels, equal_to(expected))


def test_star_of_5000_leaves_is_labelled_with_its_smallest_leaf(tmp_path):
    _check(tmp_path, [("hub", f"a{i:04d}") for i in range(5000)])


def test_many_small_clusters_keep_separate_labels(tmp_path):
    pairs = [(f"p{i:04d}a", f"p{i:04d}b") for i in range(1000)]
    triangles = [edge for i in range(1000) for edge in (
        (f"t{i:04d}c", f"t{i:04d}a"), (f"t{i:04d}a", f"t{i:04d}b"), (f"t{i:04d}b", f"t{i:04d}c"))]
    _check(tmp_path, pairs + triangles)


def test_no_edges_give_no_labels(tmp_path):
    _check(tmp_path, [])


def test_self_loops_declare_nodes_alone_or_inside_components(tmp_path):
    _check(tmp_path, [("solo", "solo"), ("b", "b"), ("b", "a"), ("c", "b")])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_graph_with_repeats_and_both_directions_matches_union_find(tmp_path, seed):
    rng = random.Random(seed)
    nodes = [f"n{rng.getrandbits(32):08x}" for _ in range(600)]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(450)]
    edges += [(b, a) for a, b in rng.sample(edges, 100)] + rng.sample(edges, 50)
    rng.shuffle(edges)
    _check(tmp_path, edges)


def test_too_few_rounds_fail_the_pipeline_and_write_no_labels(tmp_path):
    out = tmp_path / "labels"
    with pytest.raises(ClusteringDidNotConverge, match="did not converge in 1 rounds"):
        with TestPipeline() as p:
            labels = _edges(p, tmp_path, _chain(2000)) | ConnectedComponents(max_rounds=1)
            _ = labels | beam.Map(repr) | beam.io.WriteToText(str(out))
    assert not list(tmp_path.glob("labels*"))


@pytest.mark.parametrize("max_rounds", [0, -1, 2.5])
def test_max_rounds_must_be_a_positive_int(max_rounds):
    with pytest.raises(ValueError, match="max_rounds"):
        ConnectedComponents(max_rounds)
