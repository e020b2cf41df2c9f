"""training.data.sampler: mixture composition and the pure sample function."""

from collections import Counter

import pytest

from training.data import sampler as sampler_module
from training.data.sampler import (ComponentSpec, MixtureError, component_epochs, plan_mixture,
                                   sample)


def spec(name, sequences, weight=None, epochs=None):
    return ComponentSpec(name=name, sequences=sequences, weight=weight, epochs=epochs)


ALL_EPOCHS = [spec("a", 50, epochs=1.0), spec("b", 20, epochs=2.0), spec("c", 10, epochs=0.5)]
ALL_WEIGHTS = [spec("a", 60, weight=3.0), spec("b", 30, weight=1.0), spec("c", 10, weight=1.0)]
MIXED = [spec("a", 100, epochs=1.0), spec("b", 50, epochs=3.0), spec("c", 7, weight=0.5)]


def clear_caches():
    sampler_module._slot_permutation.cache_clear()
    sampler_module._sequence_permutation.cache_clear()


def epoch_samples(plan, seed, epoch):
    n = plan.epoch_size
    return [sample(plan, seed, i) for i in range(epoch * n, (epoch + 1) * n)]


def test_epochs_give_rounded_passes():
    assert plan_mixture(ALL_EPOCHS).counts == (50, 40, 5)


def test_weights_share_the_total_sequences():
    # 100 sequences in all, shared 3:1:1.
    assert plan_mixture(ALL_WEIGHTS).counts == (60, 20, 20)


def test_mixed_weights_are_shares_of_the_whole_epoch():
    # epochs components: 100 + 150 = 250 samples, the other half goes to c.
    plan = plan_mixture(MIXED)
    assert plan.counts == (100, 150, 250)
    assert plan.epoch_size == 500


@pytest.mark.parametrize("specs", [ALL_EPOCHS, ALL_WEIGHTS, MIXED],
                         ids=["epochs", "weights", "mixed"])
def test_every_epoch_has_exact_proportions(specs):
    plan = plan_mixture(specs)
    for epoch in range(3):
        counts = Counter(name for name, _ in epoch_samples(plan, 7, epoch))
        assert tuple(counts[n] for n in plan.names) == plan.counts


def test_one_epoch_visits_every_sequence_once():
    plan = plan_mixture(ALL_EPOCHS)
    for epoch in range(2):
        seen = Counter(epoch_samples(plan, 1, epoch))
        a = [seen[("a", i)] for i in range(50)]
        b = [seen[("b", i)] for i in range(20)]
        c = [seen[("c", i)] for i in range(10)]
        assert a == [1] * 50
        assert b == [2] * 20
        assert sum(c) == 5 and max(c) == 1


def test_sample_is_a_pure_function():
    plan = plan_mixture(MIXED)
    indices = [0, 1, 499, 500, 1234, 7]
    first = [sample(plan, 3, i) for i in indices]
    clear_caches()
    again = [sample(plan, 3, i) for i in reversed(indices)][::-1]
    assert first == again


def test_different_seeds_and_epochs_give_different_orders():
    plan = plan_mixture(MIXED)
    assert epoch_samples(plan, 0, 0) != epoch_samples(plan, 1, 0)
    assert epoch_samples(plan, 0, 0) != epoch_samples(plan, 0, 1)


@pytest.mark.parametrize("specs, message", [
    ([spec("a", 10, epochs=1.0), spec("b", 10, weight=0.6), spec("c", 10, weight=0.4)],
     "sum to 1; next to components given by epochs"),
    ([spec("a", 10, weight=1.0, epochs=1.0)], "exactly one of weight and epochs"),
    ([spec("a", 10)], "exactly one of weight and epochs"),
    ([spec("a", 10, epochs=-1.0)], "must be a finite number >= 0"),
    ([spec("a", 10, epochs=1.0), spec("b", 0, weight=0.2)], "no full sequence"),
    ([spec("a", 10, weight=0.0)], "mixture epoch is empty"),
    ([], "no components"),
])
def test_impossible_specs_are_refused(specs, message):
    with pytest.raises(MixtureError, match=message):
        plan_mixture(specs)


def test_zero_share_leaves_a_component_out():
    plan = plan_mixture([spec("a", 10, epochs=1.0), spec("b", 0, epochs=0.0)])
    assert plan.counts == (10, 0)


def test_component_epochs_count_the_passes_made_so_far():
    plan = plan_mixture([ComponentSpec(name="a", sequences=10, weight=None, epochs=2.0),
                         ComponentSpec(name="b", sequences=40, weight=0.5, epochs=None)])
    size = plan.epoch_size
    assert component_epochs(plan, 0, 0) == {"a": 0.0, "b": 0.0}
    full = component_epochs(plan, 0, 3 * size)
    assert full["a"] == pytest.approx(6.0) and full["b"] == pytest.approx(3 * plan.counts[1] / 40)
    # Part-way through an epoch: exactly the samples drawn so far, by the sampler itself.
    drawn = [sample(plan, 0, i)[0] for i in range(size + 7)]
    part = component_epochs(plan, 0, size + 7)
    assert part == {name: drawn.count(name) / n for name, n in (("a", 10), ("b", 40))}
