"""training.model, and the import rules of the training package."""

import ast
import dataclasses
from pathlib import Path

import torch

from training.model import ModelArgs, Transformer, swiglu_hidden

TRAINING = Path(__file__).resolve().parents[2] / "training"
ARGS = ModelArgs(vocab_size=100, dim=32, n_layers=2, n_heads=4, mlp_ratio=2.0, max_seq_len=16)


def test_forward_shape():
    model = Transformer(ARGS)
    assert model(torch.randint(0, 100, (3, 16))).shape == (3, 16, 100)


def test_attention_is_causal():
    torch.manual_seed(0)
    model = Transformer(ARGS).eval()
    tokens = torch.randint(0, 100, (1, 16))
    changed = tokens.clone()
    changed[0, 10:] = (changed[0, 10:] + 1) % 100
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_blocks_are_separate_modules():
    model = Transformer(ARGS)
    assert list(model.layers.keys()) == ["0", "1"]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_training_never_imports_beam_or_pipelines():
    for path in TRAINING.rglob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] not in ("apache_beam", "pipelines"), (path, name)


def test_model_does_not_import_torch_distributed():
    assert not any(n.startswith("torch.distributed") for n in _imports(TRAINING / "model.py"))


def test_swiglu_hidden_width_is_rounded_up_to_the_multiple():
    assert swiglu_hidden(2048, 8 / 3, 256) == 5632  # 5461 would leave every GEMM unaligned
    assert swiglu_hidden(2048, 2.75, 256) == 5632
    assert swiglu_hidden(128, 2.0, 256) == 256 and swiglu_hidden(128, 2.0, 1) == 256
    model = Transformer(dataclasses.replace(ARGS, mlp_ratio=8 / 3, multiple_of=64))
    assert model.layers["0"].mlp.w1.out_features == 128  # 32 * 8/3 = 85 -> 128
