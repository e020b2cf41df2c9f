"""training.model, and the import rules of the training package."""

import ast
from pathlib import Path

import torch

from training.model import ModelArgs, Transformer

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
