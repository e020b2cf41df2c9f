"""dedup.components: union-find labels every node with its component's smallest id."""

from __future__ import annotations

import random

from dedup.components import connected_components


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
