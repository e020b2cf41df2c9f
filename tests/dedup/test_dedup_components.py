"""dedup.components: union-find labels every node with its component's smallest id, and the
large-star/small-star steps, alternated in memory, converge to the same labels."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from dedup.components import Edge, connected_components, large_star, small_star


def oracle(edges: list[tuple[str, str]]) -> dict[str, str]:
    """Components by repeated graph search: slow and obviously right."""
    neighbours: dict[str, set[str]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    label: dict[str, str] = {}
    for start in neighbours:
        if start in label:
            continue
        seen, stack = {start}, [start]
        while stack:
            for nxt in neighbours[stack.pop()] - seen:
                seen.add(nxt)
                stack.append(nxt)
        smallest = min(seen)
        label.update((node, smallest) for node in seen)
    return label


def test_chain_collapses_to_its_smallest_node():
    edges = [("d", "c"), ("c", "b"), ("b", "a")]
    assert connected_components(edges) == {"a": "a", "b": "a", "c": "a", "d": "a"}


def test_star_maps_leaves_to_the_smallest_even_if_it_is_a_leaf():
    edges = [("hub", leaf) for leaf in ("x", "b", "z")]
    assert connected_components(edges) == {"hub": "b", "x": "b", "b": "b", "z": "b"}


def test_separate_components_keep_separate_labels():
    edges = [("a", "b"), ("c", "d"), ("d", "e")]
    assert connected_components(edges) == {"a": "a", "b": "a", "c": "c", "d": "c", "e": "c"}


def test_self_loop_declares_an_isolated_node():
    assert connected_components([("solo", "solo"), ("a", "b")]) == {
        "solo": "solo", "a": "a", "b": "a"}


def test_repeated_and_reversed_edges_and_cycles_are_fine():
    edges = [("a", "b"), ("b", "a"), ("a", "b"), ("b", "c"), ("c", "a")]
    assert connected_components(edges) == {"a": "a", "b": "a", "c": "a"}


def test_no_edges_give_no_nodes():
    assert connected_components([]) == {}


def test_smallest_is_python_string_order():
    assert connected_components([("9", "10")]) == {"9": "10", "10": "10"}


def test_accepts_any_iterable_once():
    assert connected_components(iter([("b", "a")])) == {"a": "a", "b": "a"}


def test_result_is_independent_of_edge_order_and_direction_and_matches_the_oracle():
    rng = random.Random(0)
    nodes = [f"n{i:03d}" for i in range(300)]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(250)]
    expected = oracle(edges)
    for _ in range(5):
        shuffled = [(b, a) if rng.random() < 0.5 else (a, b) for a, b in edges]
        rng.shuffle(shuffled)
        assert connected_components(shuffled) == expected


# ------------------------------------------------------------- large-star / small-star steps

def _large_step(edges: set[Edge]) -> tuple[set[Edge], bool]:
    """One large-star step over a whole graph, grouped as the Beam composite groups it."""
    neighbours = defaultdict(list)
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    out, settled = set(), True
    for node, group in neighbours.items():
        step = large_star(node, group)
        out.update(step.edges)
        settled &= step.settled
    return out, settled


def _small_step(edges: set[Edge]) -> set[Edge]:
    smaller = defaultdict(list)
    for a, b in edges:
        smaller[a].append(b)
    return {edge for node, group in smaller.items() for edge in small_star(node, group)}


def _alternate(edges: list[Edge]) -> tuple[int, set[Edge]]:
    """Rounds until every node is settled, and the final ``(node, label)`` edges."""
    graph = {(max(a, b), min(a, b)) for a, b in edges if a != b}
    rounds = 0
    while True:
        graph, settled = _large_step(graph)
        if settled:
            return rounds, graph
        graph = _small_step(graph)
        rounds += 1


def _random_graph(seed: int) -> list[Edge]:
    rng = random.Random(seed)
    nodes = [f"n{rng.getrandbits(24):06x}" for _ in range(200)]
    return [(a, b) for a, b in ((rng.choice(nodes), rng.choice(nodes)) for _ in range(180))
            if a != b]


def test_large_star_links_larger_neighbours_to_the_smallest_around_the_node():
    step = large_star("c", ["a", "d", "e", "d"])
    assert sorted(step.edges) == [("d", "a"), ("e", "a")]
    assert not step.settled


def test_large_star_centre_keeps_its_edges_and_is_settled():
    step = large_star("a", ["c", "b"])
    assert sorted(step.edges) == [("b", "a"), ("c", "a")]
    assert step.settled


def test_large_star_leaf_emits_nothing_and_is_settled():
    assert large_star("b", ["a", "a"]) == ([], True)


def test_large_star_node_with_two_smaller_neighbours_is_unsettled():
    assert large_star("c", ["a", "b"]) == ([], False)


def test_large_star_ignores_the_node_itself():
    assert large_star("b", ["b", "a"]) == ([], True)


def test_small_star_links_the_node_and_its_smaller_neighbours_to_the_smallest():
    assert sorted(small_star("d", ["b", "a", "c", "b"])) == [("b", "a"), ("c", "a"), ("d", "a")]


def test_small_star_keeps_a_single_smaller_neighbour():
    assert small_star("b", ["a", "a"]) == [("b", "a")]


@pytest.mark.parametrize("seed", range(5))
def test_each_step_keeps_every_component_and_node(seed):
    graph = {(max(a, b), min(a, b)) for a, b in _random_graph(seed)}
    expected = connected_components(graph)
    large, _ = _large_step(graph)
    assert connected_components(large) == expected
    assert connected_components(_small_step(large)) == expected


def test_star_forest_around_smallest_ids_is_settled_and_left_as_it_is():
    stars = {("b", "a"), ("c", "a"), ("y", "x"), ("z", "x")}
    assert _large_step(stars) == (stars, True)
    assert _small_step(stars) == stars


@pytest.mark.parametrize("seed", range(5))
def test_alternation_converges_to_union_find_labels(seed):
    edges = _random_graph(seed)
    _, stars = _alternate(edges)
    labels = {node: label for node, label in stars} | {label: label for _, label in stars}
    assert labels == connected_components(edges)


@pytest.mark.parametrize("n", [2, 3, 5, 64, 65, 2000])
def test_chain_with_ascending_ids_takes_log2_of_its_length_rounds(n):
    chain = [(f"{i:04d}", f"{i + 1:04d}") for i in range(n - 1)]
    assert _alternate(chain)[0] == (n - 2).bit_length()  # ceil(log2(n - 1))
