"""Bring your own tokenizer: a build with a given tokenizer.json whose special tokens sit
after a vocabulary of 70,000 (so shards are uint32), ends documents with ``</s>`` and lacks
the other codemix tokens; then the trainer's corpus, packing, objectives and a short run on
it, all with that tokenizer's ids. And a tokenizer lacking required tokens is refused."""

from __future__ import annotations

import hashlib
import json
import logging
import pathlib
import shutil
import sys
import sysconfig

import numpy as np
import pytest
import yaml
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

sys.path.insert(0, str(pathlib.Path(__file__).parent / "training"))

from corpus_builder import read_metrics, write_train_config  # noqa: E402

from pipelines.config import ConfigError, PiiSpec  # noqa: E402
from pipelines.main import run, summary  # noqa: E402
from pipelines.pii import redact  # noqa: E402
from shards.format import Shard  # noqa: E402
from shards.manifest import load_manifest, resolve  # noqa: E402
from tokenizer import encode  # noqa: E402
from tokenizer.encode import decode  # noqa: E402
from tokenizer.load import load_tokenizer  # noqa: E402
from tokenizer.special_tokens import ENDOFTEXT, SEP, SPECIAL_TOKENS  # noqa: E402
from training.data.corpus import open_corpus  # noqa: E402
from training.objectives import transform  # noqa: E402
from training.objectives.span import restore, split_documents  # noqa: E402
from training.train import main as train  # noqa: E402

STDLIB = pathlib.Path(sysconfig.get_paths()["stdlib"])
MODULES = ["textwrap.py", "colorsys.py", "bisect.py", "heapq.py", "fnmatch.py", "glob.py",
           "shlex.py", "string.py", "copy.py", "queue.py", "sched.py", "calendar.py"]
BASE_VOCAB = 70_000
"""Ids of the given tokenizer before its special tokens: past 65,536, so uint32 shards."""


def given_tokenizer(path: pathlib.Path, texts: list[str]) -> None:
    """A GPT-2-style BPE padded to ``BASE_VOCAB`` ids, then ``<s>`` and ``</s>`` (special)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=800, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    # Tokens no merge makes: tokenizers never produces them, and tiktoken cannot convert
    # this tokenizer, so the build must fall back to tokenizers' own encoding.
    vocab.update({f"unused{i}": i for i in range(len(vocab), BASE_VOCAB)})
    padded = Tokenizer.from_str(json.dumps(data))
    padded.add_special_tokens(["<s>", "</s>"])
    padded.save(str(path))


def write_build(root: pathlib.Path, tokenizer: dict) -> pathlib.Path:
    """Python modules, their docstrings' pairs, and a build config with ``tokenizer``."""
    code = root / "code"
    code.mkdir(parents=True)
    for name in MODULES:
        (code / name).write_bytes((STDLIB / name).read_bytes())
    spec = {
        "output": str(root / "out"),
        "components": {
            "code-python": {"kind": "code", "weight": 0.8, "inputs": [
                {"url": str(code), "format": "folder", "include": ["*.py"]}]},
            "pairs": {"kind": "pair", "weight": 0.2, "pairs_from": ["code-python"]},
        },
        "tokenizer": tokenizer,
        "shards": {"target_tokens": 20_000},
    }
    path = root / "build.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def given(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """(given tokenizer.json, output folder of a build that adopted it, adding tokens)."""
    root = tmp_path_factory.mktemp("given")
    tokenizer = root / "given-tokenizer.json"
    given_tokenizer(tokenizer, [(STDLIB / m).read_text() for m in MODULES])
    config = write_build(root, {"path": str(tokenizer),
                                "special_tokens": {ENDOFTEXT: "</s>"},
                                "add_missing_special_tokens": True})
    assert run([str(config)]) == 0
    return tokenizer, root / "out"


def expected_ids() -> dict[str, int]:
    """``</s>`` for <|endoftext|>, then every other codemix token appended in order."""
    others = [t for t in SPECIAL_TOKENS if t != ENDOFTEXT]
    return {ENDOFTEXT: BASE_VOCAB + 1,
            **{t: BASE_VOCAB + 2 + i for i, t in enumerate(others)}}


def test_manifest_records_the_given_tokenizer_and_its_special_ids(given):
    tokenizer, out = given
    url = str(out / "manifest.json")
    manifest = load_manifest(url)
    assert manifest.tokenizer.special_tokens == expected_ids()
    assert manifest.tokenizer.vocab_size == BASE_VOCAB + 2 + len(SPECIAL_TOKENS) - 1
    assert manifest.token_dtype == "uint32"
    assert manifest.tokenizer.given_sha256 == hashlib.sha256(tokenizer.read_bytes()).hexdigest()
    stored = load_tokenizer(resolve(url, manifest.tokenizer.path))
    assert stored.token_to_id("</s>") == BASE_VOCAB + 1
    assert stored.token_to_id("<s>") == BASE_VOCAB  # the tokenizer's own ids stay
    assert stored.token_to_id(SEP) == expected_ids()[SEP]


def test_shards_are_uint32_lossless_and_pairs_hold_the_given_sep(given):
    _, out = given
    url = str(out / "manifest.json")
    manifest = load_manifest(url)
    tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
    # Lossless but for redaction (author emails in the stdlib's headers).
    sources = {redact((STDLIB / m).read_text(), PiiSpec().kinds)[0] for m in MODULES}
    sep = expected_ids()[SEP]
    for name, check in (("code-python", "source"), ("pairs", "sep")):
        for entry in manifest.component(name).shards:
            with Shard(resolve(url, entry.path)) as shard:
                assert shard.dtype == np.uint32
                for tokens, _ in shard:
                    assert tokens.max() < manifest.tokenizer.vocab_size
                    if check == "source":
                        assert decode(tok, tokens) in sources
                    else:
                        assert tokens.tolist().count(sep) == 1


def test_the_fast_path_falls_back_for_a_tokenizer_it_cannot_convert(given, caplog):
    _, out = given
    tok = load_tokenizer(str(out / "tokenizer.json"))
    with caplog.at_level(logging.WARNING, logger=encode.__name__):
        reason = encode.fallback_reason(tok)
    assert reason is not None and reason.startswith("not convertible: vocabulary token")
    stats = json.loads((out / "stats.json").read_text())
    encoded = sum(stats["stages"]["tokenize"]["in"].values())
    assert stats["encoder"] == {"fast": 0, "fallback": encoded,
                                "fallback_reasons": {reason: encoded}}
    assert f"  encoder: 0 documents by tiktoken, {encoded} by tokenizers; FALLBACK: {reason}" \
        in summary(stats, str(out))


def test_packing_and_objectives_use_the_given_ids(given):
    _, out = given
    ids = expected_ids()
    corpus = open_corpus(str(out / "manifest.json"))
    specials = corpus.specials_for(["clm", "codegen2", "fim", "prefix_lm"])
    assert (specials.eot, specials.sep, specials.masks[0]) == (
        ids[ENDOFTEXT], ids[SEP], ids["<mask_1>"])
    packed = corpus.packed(512)["pairs"]
    ends = [seq for i in range(len(packed)) if (seq := packed[i]).eot.any()]
    assert ends and all((seq.tokens[seq.eot] == ids[ENDOFTEXT]).all() for seq in ends)

    tokens = max(ends, key=lambda seq: seq.eot.sum()).tokens  # several short documents
    example = transform("codegen2", tokens, seed=0, index=5, specials=specials,
                        options={"clm_probability": 0.0})
    sequence = np.append(example.inputs, example.targets[-1])
    assert ids["<mask_1>"] in sequence and ids[SEP] in sequence
    # Every document the window holds whole is restored from its infill layout.
    docs = split_documents(sequence, specials)
    originals = np.split(tokens, np.flatnonzero(tokens == specials.eot) + 1)
    assert len(docs) > 2
    assert [restore(doc, specials).tolist() for doc in docs[1:-1]] == [
        o[:-1].tolist() for o in originals[1:len(docs) - 1]]

    tok = load_tokenizer(str(out / "tokenizer.json"))
    fim = transform("fim", tokens, seed=0, index=1, tokenizer=tok, specials=specials,
                    options={"fim_rate": 1.0})
    assert ids["<fim_prefix>"] in fim.inputs and ids["<fim_middle>"] in fim.inputs


def test_a_short_run_trains_on_the_given_tokenizer(given, tmp_path):
    _, out = given
    cfg = write_train_config(tmp_path / "train.yaml", str(out / "manifest.json"),
                             tmp_path / "train", model={"dim": 32, "n_layers": 1, "n_heads": 2},
                             data={"seq_len": 32, "global_batch_size": 4},
                             training={"steps": 2, "log_every": 1})
    assert train([cfg]) == 0
    assert [m["step"] for m in read_metrics(tmp_path / "train")] == [1, 2]


def test_training_refuses_an_objective_whose_tokens_the_tokenizer_lacks(given, tmp_path,
                                                                         capsys):
    # The same corpus, as if built without add_missing_special_tokens: only </s> is known.
    _, out = given
    corpus = tmp_path / "corpus"
    shutil.copytree(out, corpus)
    data = json.loads((corpus / "manifest.json").read_text())
    data["tokenizer"]["special_tokens"] = {ENDOFTEXT: BASE_VOCAB + 1}
    (corpus / "manifest.json").write_text(json.dumps(data))
    cfg = write_train_config(tmp_path / "train.yaml", str(corpus / "manifest.json"),
                             tmp_path / "train", training={"steps": 1, "objective": "codegen2",
                                                           "objective_per_component":
                                                               {"pairs": "clm"}})
    assert train([cfg]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "the tokenizer lacks the special tokens <sep>, <eom>, <mask_1>..<mask_32>, which "
        "training with clm and codegen2 needs (build the corpus with "
        "tokenizer.add_missing_special_tokens: true)")


@pytest.mark.parametrize("tokenizer, message", [
    ({}, r"^tokenizer.path \S+: lacks the special tokens <\|endoftext\|>, <sep> \(set "
         r"tokenizer.add_missing_special_tokens: true to add them, or map the tokenizer's "
         r"own with tokenizer.special_tokens\)$"),
    ({"special_tokens": {ENDOFTEXT: "</s>"}}, r"^tokenizer.path \S+: lacks the special "
                                               r"tokens <sep> \("),
])
def test_a_tokenizer_lacking_required_tokens_is_refused_in_one_line(given, tmp_path,
                                                                     tokenizer, message):
    path, _ = given
    config = write_build(tmp_path, {"path": str(path), **tokenizer})
    with pytest.raises(ConfigError, match=message):
        run([str(config)])
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_missing_tokenizer_file_is_one_line(tmp_path):
    config = write_build(tmp_path, {"path": str(tmp_path / "nope.json")})
    with pytest.raises(ConfigError, match=r"^tokenizer.path: no such file \S+nope.json$"):
        run([str(config)])
