"""tokenizer.sample and SampleForTokenizer: the training sample follows the mixture."""

from __future__ import annotations

import hashlib

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that

from pipelines.config import parse_config
from pipelines.records import Record
from pipelines.tokenizing import SampleForTokenizer, _sample_key
from tokenizer.sample import (ComponentMix, ComponentSize, ComponentTake, mixture_shares,
                              plan_sample, quotas)
from training.data.sampler import ComponentSpec, plan_mixture

WEIGHT, EPOCHS = ComponentMix(weight=1.0, epochs=None), ComponentMix(weight=None, epochs=1.0)


def test_weights_alone_share_the_corpus_whatever_the_sizes():
    shares = mixture_shares({"a": 900, "b": 100},
                            {"a": ComponentMix(0.25, None), "b": ComponentMix(0.75, None)})
    assert shares == pytest.approx({"a": 0.25, "b": 0.75})


def test_epochs_alone_weigh_by_size():
    shares = mixture_shares({"a": 300, "b": 100},
                            {"a": EPOCHS, "b": ComponentMix(None, 3.0)})
    assert shares == pytest.approx({"a": 0.5, "b": 0.5})


def test_weights_next_to_epochs_are_shares_of_the_whole_mixture():
    shares = mixture_shares({"code": 1000, "docs": 10, "pairs": 5},
                            {"code": EPOCHS, "docs": ComponentMix(0.3, None),
                             "pairs": ComponentMix(0.2, None)})
    assert shares == pytest.approx({"code": 0.5, "docs": 0.3, "pairs": 0.2})


@pytest.mark.parametrize("mix", [
    {"a": ComponentMix(0.2, None), "b": ComponentMix(0.5, None), "c": ComponentMix(0.3, None)},
    {"a": ComponentMix(None, 2.0), "b": ComponentMix(0.4, None), "c": ComponentMix(None, 0.5)},
])
def test_shares_agree_with_the_trainers_mixture_plan(mix):
    sizes = {"a": 40_000, "b": 7_000, "c": 90_000}
    plan = plan_mixture([ComponentSpec(name=n, sequences=s, weight=mix[n].weight,
                                       epochs=mix[n].epochs) for n, s in sizes.items()])
    trainer = {n: c / plan.epoch_size for n, c in zip(plan.names, plan.counts)}
    assert mixture_shares(sizes, mix) == pytest.approx(trainer, abs=1e-4)


def test_quotas_make_sampled_characters_follow_the_shares():
    sizes = {"long": ComponentSize(docs=1000, chars=10_000_000, capped_chars=4_000_000),
             "short": ComponentSize(docs=5000, chars=1_000_000, capped_chars=1_000_000)}
    got = quotas(sizes, {"long": 0.5, "short": 0.5}, sample_docs=1000)
    # Mean sampled lengths 4000 and 200: equal characters need 20 times the short documents.
    assert got == {"long": 48, "short": 952}
    assert sum(quotas(sizes, {"long": 0.5, "short": 0.5}, sample_docs=10**9).values()) == 6000


def test_a_small_upweighted_component_is_repeated():
    sizes = {"big": ComponentSize(docs=900, chars=900_000, capped_chars=900_000),
             "tiny": ComponentSize(docs=3, chars=3000, capped_chars=3000)}
    keys = {name: [bytes([i]) for i in range(min(s.docs, 100))] for name, s in sizes.items()}
    plan = plan_sample(sizes, {"big": ComponentMix(0.5, None), "tiny": ComponentMix(0.5, None)},
                       keys, sample_docs=100)
    assert plan == {"big": ComponentTake(0, bytes([49])), "tiny": ComponentTake(16, bytes([1]))}
    assert [plan["tiny"].count(bytes([i])) for i in range(3)] == [17, 17, 16]
    assert sum(plan["big"].count(bytes([i])) for i in range(256)) == 50


def record(component: str, i: int, text: str) -> Record:
    doc_id = hashlib.sha256(f"{component}:{i}".encode()).hexdigest()
    return Record(id=doc_id, text=text, kind="code", lang="python", component=component,
                  repo="r", path=f"{i}.py", license="", meta={})


def test_sample_for_tokenizer_follows_the_weights(tmp_path):
    config = parse_config({
        "output": str(tmp_path),
        "components": {
            "code": {"kind": "code", "weight": 0.75, "inputs": [{"url": "x", "format": "folder"}]},
            "docs": {"kind": "text", "weight": 0.25, "inputs": [{"url": "x", "format": "folder"}]},
        },
        "tokenizer": {"sample_docs": 40, "sample_chars": 50},
    }, check_paths=False)
    records = ([record("code", i, f"code {i} " * 20) for i in range(100)]
               + [record("docs", i, f"doc {i} " * 20) for i in range(100)])
    expected_code = sorted(records[:100], key=_sample_key)[:30]
    expected_docs = sorted(records[100:], key=_sample_key)[:10]

    def check(samples):
        [sample] = samples
        assert sorted(sample) == sorted((_sample_key(r), r.text[:50])
                                        for r in expected_code + expected_docs)

    with BeamPipeline() as p:
        sample = p | beam.Create(records) | SampleForTokenizer(config)
        assert_that(sample, check)
