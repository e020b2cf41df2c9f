"""training.data.holdout: whole documents per component that training never reads."""

import numpy as np
import pytest
from corpus_builder import build_manifest, stdlib_texts
from tokenizers import Tokenizer

from shards.manifest import resolve

from training.data.corpus import open_corpus
from training.data.holdout import document_key, heldout_documents, split
from training.data.loader import MixtureLoader
from training.data.sampler import MixtureSampler

SEQ_LEN = 32
HELD = 6


def _ids(packed, documents):
    """The ids of ``documents`` (per shard) of a packed component."""
    return {packed.shards[k].meta(int(d))["id"]
            for k, docs in enumerate(documents) for d in docs}


def _stream(packed, documents, eot):
    """What packing ``documents`` must give: each document's tokens, then EOT, in order."""
    parts = []
    for k, docs in enumerate(documents):
        for d in docs:
            parts += [packed.shards[k].tokens(int(d)).astype(np.int64), np.array([eot])]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def corpus_parts(tiny_manifest):
    corpus = open_corpus(tiny_manifest)
    packed = corpus.packed(SEQ_LEN)
    train, heldout = split(packed, HELD)
    return corpus, packed, train, heldout


def test_document_keys_are_fixed_and_differ_by_component():
    assert document_key("code-python", "a") == document_key("code-python", "a")
    assert document_key("code-python", "a") != document_key("text-docs", "a")
    assert 0 <= document_key("x", "y") < 2 ** 64


def test_split_partitions_each_component_by_document(corpus_parts):
    corpus, packed, train, heldout = corpus_parts
    for name, whole in packed.items():
        assert len(heldout[name]) == HELD
        held = heldout[name].sequences.documents
        for all_docs, kept, out in zip(whole.documents, train[name].documents, held):
            assert not set(kept.tolist()) & set(out.tolist())
            np.testing.assert_array_equal(np.union1d(kept, out), all_docs)
        # Held out: just enough documents for HELD sequences, at most half the tokens.
        assert HELD * SEQ_LEN + 1 <= heldout[name].sequences.stream_length
        assert heldout[name].sequences.stream_length <= whole.stream_length // 2
        # Each part is its documents packed apart: no held-out token in a training window.
        eot = corpus.specials.eot
        train_stream = _stream(whole, train[name].documents, eot)
        for i in (0, len(train[name]) // 2, len(train[name]) - 1):
            np.testing.assert_array_equal(train[name][i].tokens,
                                          train_stream[i * SEQ_LEN:(i + 1) * SEQ_LEN + 1])
        held_stream = _stream(whole, held, eot)
        np.testing.assert_array_equal(heldout[name][HELD - 1].tokens,
                                      held_stream[(HELD - 1) * SEQ_LEN:HELD * SEQ_LEN + 1])


def test_the_same_documents_are_held_out_whatever_the_shard_layout(corpus_parts, tmp_path):
    corpus, packed, _, heldout = corpus_parts
    tokenizer = Tokenizer.from_file(resolve(corpus.url, corpus.manifest.tokenizer.path))
    other = open_corpus(build_manifest(tmp_path, stdlib_texts(), docs_per_shard=7,
                                       tokenizer=tokenizer))
    repacked = other.packed(SEQ_LEN)
    for name, whole in repacked.items():
        assert len(whole.shards) > len(packed[name].shards)
        assert (_ids(whole, heldout_documents(name, whole, HELD))
                == _ids(packed[name], heldout[name].sequences.documents))


def test_nothing_is_held_out_by_default(corpus_parts):
    _, packed, _, _ = corpus_parts
    train, heldout = split(packed, 0)
    for name, whole in packed.items():
        assert train[name] is whole and len(heldout[name]) == 0


def test_heldout_documents_never_reach_a_training_batch(corpus_parts):
    corpus, packed, train, heldout = corpus_parts
    plan = corpus.mixture(train)
    assert plan.sequences == tuple(len(train[n]) for n in plan.names)
    assert all(len(train[n]) <= len(packed[n]) - HELD for n in plan.names)
    sampler = MixtureSampler(plan, 3)
    loader = MixtureLoader(sampler, train, global_batch_size=8, rank=0, world_size=1,
                           objectives={name: "clm" for name in packed})
    for step in range(0, plan.epoch_size // 8, 7):
        batch = loader.batch(step)
        for row, index in enumerate(range(step * 8, step * 8 + 8)):
            name, k = sampler.sample(index)
            np.testing.assert_array_equal(batch.inputs[row].numpy(),
                                          train[name][k].tokens[:-1])
