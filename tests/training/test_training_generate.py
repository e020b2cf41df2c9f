"""training.generate and `codemix generate` / `codemix infill` on a trained checkpoint."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch
import yaml
from corpus_builder import train_tokenizer, write_train_config

from codemix.cli import main as codemix
from tokenizer.encode import encode_batch
from tokenizer.load import TokenizerError
from tokenizer.special_tokens import SpecialIds
from training import generate as gen
from training.config import load_config
from training.model import ModelArgs, Transformer
from training.train import main as train

ARGS = ModelArgs(vocab_size=96, dim=16, n_layers=2, n_heads=2, mlp_ratio=2.0, max_seq_len=12)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transformer(ARGS)


CODEMIX = SpecialIds.default()
EOT, SEP, EOM, MASK1 = CODEMIX.eot, CODEMIX.sep, CODEMIX.eom, CODEMIX.masks[0]


def test_infill_prompt_is_the_codegen2_layout():
    tok = train_tokenizer(["def add(a, b):\n    return a + b\n"] * 20, vocab_size=300)
    ids = gen.infill_prompt(tok, "def add(a, b):\n", "\n")
    prefix, suffix = (encode_batch(tok, [t])[0].tolist() for t in ("def add(a, b):\n", "\n"))
    assert ids == [EOT, *prefix, MASK1, *suffix, EOT, SEP, MASK1]
    # Sentinel strings in the user's text are text, not sentinels.
    assert gen.infill_prompt(tok, "<mask_1>", "<eom>").count(MASK1) == 2
    assert gen.document_prompt(tok, "x = 1")[0] == EOT


def test_prompts_use_the_corpus_special_ids():
    tok = train_tokenizer(["def add(a, b):\n    return a + b\n"] * 20, vocab_size=300)
    foreign = SpecialIds(eot=400, sep=401, eom=402, masks=(403, 404))
    ids = gen.infill_prompt(tok, "a", "b", foreign)
    assert ids[0] == 400 and ids[-3:] == [400, 401, 403] and ids.count(403) == 2
    assert gen.document_prompt(tok, "x", foreign)[0] == 400
    with pytest.raises(TokenizerError, match="^infilling needs the special tokens <sep>, "
                                             "<eom>, <mask_1>, which the corpus's"):
        gen.infill_prompt(tok, "a", "b", SpecialIds(eot=2))


def test_greedy_is_the_argmax_and_ignores_the_seed(model):
    prompt = [0, 5, 7, 9]
    new = gen.generate(model, prompt, max_new_tokens=6, seed=1)
    assert len(new) == 6
    assert gen.generate(model, prompt, max_new_tokens=6, seed=2) == new
    sequence = list(prompt)
    for token in new:
        with torch.no_grad():
            assert token == int(model(torch.tensor([sequence]))[0, -1].argmax())
        sequence.append(token)


def test_stops_after_a_stop_id(model):
    prompt = [0, 3]
    free = gen.generate(model, prompt, max_new_tokens=8, temperature=2.0, seed=3)
    stop = free[3]
    stopped = gen.generate(model, prompt, max_new_tokens=8, temperature=2.0, seed=3,
                           stop_ids={stop})
    assert stopped == free[:free.index(stop) + 1]
    assert gen.generate(model, prompt, max_new_tokens=0) == []


def test_a_stop_predicate_ends_generation_after_the_token_it_accepts(model):
    free = gen.generate(model, [0, 3], max_new_tokens=8, temperature=2.0, seed=3)
    seen = []
    stopped = gen.generate(model, [0, 3], max_new_tokens=8, temperature=2.0, seed=3,
                           stop=lambda new: seen.append(list(new)) or len(new) == 3)
    assert stopped == free[:3]
    assert seen == [free[:1], free[:2], free[:3]]


def test_sampling_is_a_function_of_the_seed(model):
    draw = lambda seed: gen.generate(model, [0, 1], max_new_tokens=20, temperature=5.0,
                                     seed=seed)
    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_a_sequence_longer_than_the_context_keeps_its_last_tokens(model):
    new = gen.generate(model, list(range(10)), max_new_tokens=8)  # 18 > max_seq_len 12
    assert len(new) == 8


def test_bad_arguments_are_refused(model):
    with pytest.raises(ValueError):
        gen.generate(model, [], max_new_tokens=1)
    with pytest.raises(ValueError):
        gen.generate(model, [0], max_new_tokens=1, temperature=-1.0)


# --- end to end: a checkpoint written by the trainer, used through the command ---


@pytest.fixture(scope="module")
def trained(tiny_manifest, tmp_path_factory):
    """(config path, checkpoint folder) of a 1-process run of 4 steps."""
    root = tmp_path_factory.mktemp("generate")
    cfg = write_train_config(root / "train.yaml", tiny_manifest, root / "train",
                             training={"steps": 4, "log_every": 2})
    assert train([cfg]) == 0
    return cfg, str(root / "train" / "checkpoints" / "step-000004")


def _run(capsys, *argv):
    status = codemix(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_generate_prints_a_deterministic_continuation(trained, capsys):
    cfg, ckpt = trained
    args = ["generate", ckpt, "--config", cfg, "--prompt", "def main(", "--max-new-tokens",
            "12"]
    status, first, _ = _run(capsys, *args)
    assert status == 0 and first.rstrip("\n")  # 4 steps in, it may print only spaces
    assert _run(capsys, *args)[1] == first
    sampled = args + ["--temperature", "1.0", "--seed", "4"]
    status, sample, _ = _run(capsys, *sampled)
    assert status == 0 and sample.rstrip("\n")
    assert _run(capsys, *sampled)[1] == sample


def test_the_checkpoint_alone_is_enough(trained, tmp_path, capsys, monkeypatch):
    cfg, ckpt = trained
    assert gen.run_config(ckpt) == load_config(cfg)  # the resolved config, stored
    assert gen.run_config(ckpt, overrides=["data.seed=7"]).data.seed == 7
    args = ["--prompt", "def main(", "--max-new-tokens", "12"]
    with_config = _run(capsys, "generate", ckpt, "--config", cfg, *args)
    monkeypatch.chdir(tmp_path)  # nothing of the run's is found from here but the checkpoint
    assert _run(capsys, "generate", ckpt, *args) == with_config
    older = tmp_path / "older"
    shutil.copytree(ckpt, older)
    (older / "run.json").unlink()
    status, _, err = _run(capsys, "generate", str(older), *args)
    assert status == 2 and err == (f"codemix: error: checkpoint {older} stores no training "
                                   "config (written by an older codemix): pass the run's "
                                   "--config\n")


def test_infill_stops_at_eom_or_the_limit(trained, capsys):
    cfg, ckpt = trained
    args = ["infill", ckpt, "--config", cfg, "--prefix", "def f(x):\n    ",
            "--suffix", "\n    return y\n", "--max-new-tokens", "10"]
    status, middle, _ = _run(capsys, *args)
    assert status == 0 and middle.endswith("\n") and "<eom>" not in middle
    assert _run(capsys, *args)[1] == middle

    model, tok, specials = gen.load_model(ckpt, load_config(cfg))
    assert specials == CODEMIX
    new = gen.generate(model, gen.infill_prompt(tok, "def f(x):\n    ", "\n    return y\n",
                                                specials),
                       max_new_tokens=10, stop_ids={EOM})
    assert new[-1] == EOM or len(new) == 10
    assert EOM not in new[:-1]
    assert tok.decode(new[:-1] if new[-1] == EOM else new,
                      skip_special_tokens=False) + "\n" == middle


def test_loaded_weights_are_the_trained_ones(trained):
    cfg, ckpt = trained
    config = load_config(cfg)
    model, _, _ = gen.load_model(ckpt, config)
    torch.manual_seed(config.data.seed)  # the initial weights of the run
    fresh = Transformer(model.args)
    assert not torch.equal(model.output.weight.cpu(), fresh.output.weight)


def _one_line(err: str, fragment: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codemix: error:") and fragment in lines[0]


def test_user_errors_are_one_line(trained, tmp_path, capsys):
    cfg, ckpt = trained
    status, _, err = _run(capsys, "generate", str(tmp_path / "nope"), "--config", cfg,
                          "--prompt", "x")
    assert status == 2
    _one_line(err, "no checkpoint at")

    status, _, err = _run(capsys, "infill", ckpt, "--config", str(tmp_path / "nope.yaml"),
                          "--prefix", "a", "--suffix", "b")
    assert status == 2
    _one_line(err, "nope.yaml")

    raw = yaml.safe_load(open(cfg))
    raw["model"]["n_layers"] = 3
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(raw))
    status, _, err = _run(capsys, "generate", ckpt, "--config", str(wrong), "--prompt", "x")
    assert status == 2
    _one_line(err, "layers.2")

    status, _, err = _run(capsys, "generate", ckpt, "--config", cfg, "--prompt", "x",
                          "--set", "model.dim=32")
    assert status == 2
    _one_line(err, "shape")


def test_a_checkpoint_of_another_corpus_is_refused(trained, make_manifest, capsys):
    cfg, ckpt = trained
    other = make_manifest({"code-python": ["x = 1\n" * 50] * 4}, vocab_size=300)
    status, _, err = _run(capsys, "generate", ckpt, "--config", cfg, "--prompt", "x",
                          "--set", f"data.manifest={other}")
    assert status == 2
    _one_line(err, "trained on manifest")


def test_model_args_come_from_the_config(trained):
    cfg, ckpt = trained
    config = load_config(cfg)
    model, tok, _ = gen.load_model(ckpt, config, torch.device("cpu"))
    assert dataclasses.asdict(model.args) == dataclasses.asdict(ModelArgs(
        vocab_size=tok.get_vocab_size(), dim=config.model.dim, n_layers=config.model.n_layers,
        n_heads=config.model.n_heads, mlp_ratio=config.model.mlp_ratio,
        multiple_of=config.model.multiple_of, max_seq_len=config.data.seq_len))
