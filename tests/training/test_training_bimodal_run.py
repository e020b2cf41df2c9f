"""End to end: CodeT5+'s bimodal objectives on a pairs component, 2 processes (gloo, FSDP2),
on both architectures.

A tiny corpus of standard-library code and its function/docstring pairs
(``docstring <sep> code``, as the build writes them) trains 10 steps with
``objective_per_component: {pairs: bimodal}`` (the code with ``clm``, or ``seq2seq_lm`` on
an encoder-decoder), checkpointing at step 5; a second run resumed from that checkpoint
repeats every logged value of steps 6-10, the bimodal losses included, and one process
holding the whole global batch logs the same values as the two. A longer run of the
encoder-decoder on pairs alone shows its bimodal losses fall.
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import pytest
from corpus_builder import build_manifest, read_metrics, stdlib_texts, torchrun, \
    write_train_config

from training.config import load_config
from training.data.corpus import open_corpus
from training.data.loader import rank_slice
from training.data.sampler import MixtureSampler
from training.generate import load_model
from training.train import main

STEPS, EVERY, BATCH, WORLD = 10, 5, 8, 2
BIMODAL = ("loss/bimodal_generation", "loss/contrastive", "loss/matching", "accuracy/matching")
ENCODER_DECODER = {"architecture": "encoder_decoder", "encoder_layers": 1}
CODE_OBJECTIVE = {"decoder": "clm", "encoder_decoder": "seq2seq_lm"}
"""Each architecture's objective for the code component."""
LR = {"decoder": 1e-2, "encoder_decoder": 3e-3}
"""Each architecture's learning rate: at 1e-2 the encoder-decoder's gradient norm spikes to
288 at step 7, where the contrastive loss's rounding differences between 1 and 2
processes (1e-7 before) grow to 1e-4."""


def stdlib_pairs(limit: int = 400) -> list[str]:
    """Short functions of the standard library with a docstring, as ``docstring <sep>
    code`` (the docstring's first paragraph; the code without its docstring).

    No two share a docstring or a code: equal sides score equally against a row, and the
    hard negative picked among equal scores (an argmax) would then depend on the rounding
    of each process count's sums, so 1 and 2 processes could train on different negatives.
    """
    pairs, seen = [], set()
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        lines = text.splitlines()
        for node in ast.walk(tree):
            if (isinstance(node, ast.FunctionDef) and ast.get_docstring(node)
                    and len(node.body) > 1):
                doc = ast.get_docstring(node).split("\n\n")[0]
                code = "\n".join(lines[node.lineno - 1:node.body[0].lineno - 1]
                                 + lines[node.body[1].lineno - 1:node.end_lineno])
                if len(doc) < 150 and len(code) < 250 and not {doc, code} & seen:
                    seen |= {doc, code}
                    pairs.append(f"{doc}<sep>{code}")
        if len(pairs) >= limit:
            return pairs[:limit]
    return pairs


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> str:
    return build_manifest(tmp_path_factory.mktemp("corpus"), {
        "code-python": stdlib_texts(150_000)["code-python"], "pairs": stdlib_pairs()},
        mixing={"code-python": {"epochs": 1.0}, "pairs": {"weight": 0.2}})


def _model(architecture: str) -> dict:
    return ENCODER_DECODER if architecture == "encoder_decoder" else {}


@pytest.fixture(scope="module", params=["decoder", "encoder_decoder"])
def runs(request, manifest, tmp_path_factory):
    architecture = request.param
    root = tmp_path_factory.mktemp(f"bimodal-{architecture}")
    cfg = write_train_config(root / "train.yaml", manifest, root / "reference",
                             model=_model(architecture), optim={"lr": LR[architecture]},
                             data={"seq_len": 256, "global_batch_size": BATCH},
                             training={"steps": STEPS, "log_every": 1,
                                       "checkpoint_every": EVERY,
                                       "objective": CODE_OBJECTIVE[architecture],
                                       "objective_per_component": {"pairs": "bimodal"}})
    result = torchrun([cfg], nproc=WORLD)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = root / "resumed"
    result = torchrun([cfg, "--set", f"training.resume_from={root}/reference/checkpoints/"
                       f"step-{EVERY:06d}", "--set", f"training.output_dir={resumed}"],
                      nproc=WORLD)
    assert result.returncode == 0, result.stderr[-3000:]
    alone = root / "alone"
    result = torchrun([cfg, "--set", f"training.output_dir={alone}"], nproc=1)
    assert result.returncode == 0, result.stderr[-3000:]
    return cfg, read_metrics(root / "reference"), read_metrics(resumed), read_metrics(alone)


def ranks_with_pairs(cfg: str) -> list[int]:
    """How many ranks hold a pairs sample, step by step."""
    config = load_config(cfg)
    corpus = open_corpus(config.data.manifest)
    sampler = MixtureSampler(corpus.mixture(corpus.packed(config.data.seq_len)), 0)
    return [sum(any(sampler.sample(i)[0] == "pairs" for i in rank_slice(step, BATCH, r, WORLD))
                for r in range(WORLD)) for step in range(STEPS)]


def test_the_run_covers_steps_without_pairs_and_with_pairs_on_one_rank(runs):
    cfg, reference, _, _ = runs
    ranks = ranks_with_pairs(cfg)
    assert 0 in ranks[:EVERY] and 1 in ranks and 2 in ranks
    for entry, count in zip(reference, ranks):
        # The passes run (and log) exactly on the steps holding pairs on some rank.
        assert ("loss/contrastive" in entry) == (count > 0), entry["step"]


def test_bimodal_losses_are_logged_and_finite(runs):
    _, reference, _, _ = runs
    assert [m["step"] for m in reference] == list(range(1, STEPS + 1))
    paired = [m for m in reference if "loss/contrastive" in m]
    assert paired
    for entry in paired:
        assert all(0 <= entry[key] < 20 for key in BIMODAL[:3])
        assert {"loss/clm", "loss/seq2seq_lm"} & entry.keys()
    assert max(m["loss/contrastive"] for m in paired) > 1.0  # several pairs in a batch
    assert all(0 <= m["accuracy/matching"] <= 1 for m in paired)


def test_resume_repeats_every_logged_value(runs):
    _, reference, resumed, _ = runs
    assert [m["step"] for m in resumed] == list(range(EVERY + 1, STEPS + 1))
    expected = {m["step"]: m for m in reference}
    for entry in resumed:
        for key, value in entry.items():
            if key.startswith(("loss", "accuracy", "grad_norm")):
                assert value == pytest.approx(expected[entry["step"]][key], rel=1e-6), key


def test_one_process_logs_what_two_do(runs):
    # In-batch negatives span the ranks, and every loss is a mean over the whole global
    # batch: with the same global batch the number of processes changes nothing but the
    # order of floating-point sums.
    _, reference, _, alone = runs
    assert [m["step"] for m in alone] == [m["step"] for m in reference]
    for a, b in zip(reference, alone):
        keys = [k for k in a if k.startswith(("loss", "accuracy", "grad_norm"))]
        assert keys == [k for k in b if k.startswith(("loss", "accuracy", "grad_norm"))]
        assert [b[k] for k in keys] == pytest.approx([a[k] for k in keys], rel=1e-4), a["step"]


def test_generate_loads_a_bimodal_checkpoint(runs):
    cfg, _, _, _ = runs
    config = load_config(cfg)
    model, _, _ = load_model(f"{config.training.checkpoint_folder}/step-{STEPS:06d}", config)
    assert set(model.heads) == {"contrastive", "matching"}
    assert (model.encoder is not None) == config.model.encoder_decoder


def test_an_encoder_decoder_s_bimodal_losses_fall(tmp_path):
    pairs = build_manifest(tmp_path / "corpus", {"pairs": stdlib_pairs()})
    cfg = write_train_config(tmp_path / "train.yaml", pairs, tmp_path / "out",
                             model=ENCODER_DECODER,
                             data={"seq_len": 128, "global_batch_size": 16},
                             optim={"lr": 3e-3, "warmup_steps": 10},
                             training={"steps": 100, "log_every": 10, "objective": "bimodal"})
    assert main([cfg]) == 0
    metrics = read_metrics(tmp_path / "out")
    # Means over the first and the last three entries: a batch of 16 pairs is noisy.
    first, last = ({key: sum(m[key] for m in part) / 3 for key in BIMODAL}
                   for part in (metrics[:3], metrics[-3:]))
    # Measured: generation 5.89 -> 3.7, contrastive 2.18 -> 0.6 (16 pairs: ln 16 = 2.77 at
    # chance). Matching stays at ln 2 = 0.693 this early, against hard negatives: it is only
    # checked to be computed (its gradient is tested in test_training_bimodal_seq2seq).
    assert last["loss/bimodal_generation"] < first["loss/bimodal_generation"] - 1.0
    assert last["loss/contrastive"] < first["loss/contrastive"] - 0.5
    assert 0.6 < last["loss/matching"] < 0.8
