"""training.data.holdout: whole documents per component that training never reads."""

import numpy as np
import pytest
from corpus_builder import build_manifest, stdlib_texts
from tokenizers import Tokenizer

from shards.manifest import resolve

from training.data.corpus import open_corpus
from training.data.holdout import source_key, split
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


def test_source_keys_are_fixed_and_differ_by_source():
    assert source_key("a") == source_key("a") != source_key("b")
    assert 0 <= source_key("y") < 2 ** 64


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
    _, held_again = split(repacked, HELD)
    for name, whole in repacked.items():
        assert len(whole.shards) > len(packed[name].shards)
        assert (_ids(whole, held_again[name].sequences.documents)
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


WINDOW = 8
"""Tokens per window compared between held-out sources and training sequences."""


def _windows(tokens) -> set[tuple[int, ...]]:
    t = tokens.tolist()
    return {tuple(t[i:i + WINDOW]) for i in range(len(t) - WINDOW + 1)}


def test_no_heldout_source_reaches_a_training_sequence_of_any_component(built_corpus):
    """On a real build (code components and the pairs cut from them): a source is held
    out of every component, so none of its documents' tokens (a held-out file's pairs, a
    held-out pair's file) is in a training sequence, which is all the loader reads."""
    corpus = open_corpus(str(built_corpus / "manifest.json"))
    packed = corpus.packed(SEQ_LEN)
    train, _ = split(packed, HELD)
    documents = []  # (component, source, tokens, trained)
    for name, whole in packed.items():
        trained = [set(docs.tolist()) for docs in train[name].documents]
        for k, shard in enumerate(whole.shards):
            for d, (tokens, meta) in enumerate(shard):
                documents.append((name, meta.get("source_id", meta["id"]), tokens,
                                  d in trained[k]))
    held = {source for _, source, _, trained in documents if not trained}
    # The split did hold out sources with documents in a code component and in pairs.
    linked = {source for name, source, _, _ in documents if name == "pairs"} & {
        source for name, source, _, _ in documents if name.startswith("code-")}
    assert held & linked
    # Windows only documents of held-out sources have: none may be trained on.
    elsewhere = set().union(*(_windows(tokens) for _, source, tokens, _ in documents
                              if source not in held))
    secret = set().union(*(_windows(tokens) for _, source, tokens, _ in documents
                           if source in held)) - elsewhere
    assert any(name == "pairs" and source in held and _windows(tokens) & secret
               for name, source, tokens, _ in documents)
    for name, part in train.items():
        for i in range(len(part)):
            assert not _windows(part[i].tokens) & secret, (name, i)
