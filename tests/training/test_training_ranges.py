"""The build's token ranges in training: a corpus built by the pipeline trains with
syntax-aligned spans, and what its ``loss_mask`` marks takes no loss under every objective."""

import numpy as np
from corpus_builder import read_metrics, write_train_config

from shards.manifest import resolve
from tokenizer.load import load_tokenizer
from training.config import load_config
from training.data.corpus import open_corpus
from training.data.loader import MixtureLoader
from training.data.sampler import MixtureSampler
from training.objectives import IGNORE_INDEX, OBJECTIVES, SEQ2SEQ_OBJECTIVES
from training.train import main


def occurrences(ids: np.ndarray, run: list[int]) -> list[int]:
    """Where ``run`` starts in ``ids``, each time it does."""
    n = len(run)
    return [p for p in range(len(ids) - n + 1) if ids[p:p + n].tolist() == run]


def test_a_built_corpus_trains_with_syntax_spans_and_its_loss_mask(built_corpus, tmp_path):
    manifest = str(built_corpus / "manifest.json")
    cfg = write_train_config(
        tmp_path / "train.yaml", manifest, tmp_path / "out",
        data={"seq_len": 128},
        training={"steps": 2, "log_every": 1,
                  "objective_per_component": {"code-c": "codegen2", "code-python": "fim"}},
        objectives={"syntax_spans": True, "codegen2_clm_probability": 0.0, "fim_rate": 1.0})
    assert main([cfg]) == 0
    assert [m["step"] for m in read_metrics(tmp_path / "out")] == [1, 2]

    # Examples as that run's loader makes them, of every objective, from code-c: its
    # licensed.c has a license header and an email placeholder that take no loss.
    config = load_config(cfg)
    corpus = open_corpus(manifest)
    packed = corpus.packed(config.data.seq_len)
    loader = MixtureLoader(
        MixtureSampler(corpus.mixture(packed), config.data.seed), packed,
        global_batch_size=config.data.global_batch_size, rank=0, world_size=1,
        objectives=config.training.objectives_for(corpus.names),
        tokenizer=load_tokenizer(resolve(manifest, corpus.manifest.tokenizer.path)),
        options={name: config.objectives.options(name) for name in OBJECTIVES},
        specials=corpus.specials)
    masked, definitions = [], []  # token runs, over code-c's documents
    for shard in corpus.shards("code-c"):
        for d in range(len(shard)):
            ids, meta = shard.tokens(d).tolist(), shard.meta(d)
            masked += [ids[a:b] for a, b in meta.get("no_loss", ())]
            definitions += [ids[a:b] for a, b in meta.get("spans", ())]
    assert len(masked) == 2  # licensed.c's license header and <EMAIL>
    found, whole = 0, 0
    for name in sorted(set(OBJECTIVES) - SEQ2SEQ_OBJECTIVES):  # decoder-only layouts
        for i in range(len(packed["code-c"])):
            seq = packed["code-c"][i]
            for index in range(8):
                ex = loader.example(name, seq.tokens, index, no_loss=seq.no_loss,
                                    spans=seq.spans)
                for run in masked:
                    for p in occurrences(ex.inputs, run):
                        if p > 0:  # the first input is nobody's target
                            assert (ex.targets[p - 1:p - 1 + len(run)] == IGNORE_INDEX).all()
                            found += 1
                if name == "codegen2":
                    # Every span masked whole in the window (<mask_k> span <eom>) is a
                    # definition, or the part of one that the window holds.
                    sentinels = np.flatnonzero(np.isin(ex.inputs, corpus.specials.masks))
                    for end in np.flatnonzero(ex.inputs == corpus.specials.eom):
                        start = sentinels[sentinels < end][-1] + 1
                        span = ex.inputs[start:end].tolist()
                        assert any(occurrences(np.array(d), span) for d in definitions)
                        whole += span in definitions
    assert found > 0 and whole > 0
