"""training.model (attention with and without a mask), and the training package's imports."""

import ast
import dataclasses
from pathlib import Path

import torch

from tokenizer.special_tokens import ENDOFTEXT, SPECIAL_TOKENS
from training.attention import attention_mask, build_mask
from training.model import ModelArgs, Transformer, swiglu_hidden

TRAINING = Path(__file__).resolve().parents[2] / "training"
EOT_ID = SPECIAL_TOKENS.index(ENDOFTEXT)
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


def _document_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Two packed rows that differ only in their first document (positions 0-5)."""
    tokens = torch.randint(len(SPECIAL_TOKENS), 100, (1, 16))
    tokens[0, 5] = EOT_ID  # the first document is positions 0-5, its EOT included
    changed = tokens.clone()
    changed[0, :5] = len(SPECIAL_TOKENS) + (changed[0, :5] + 1 - len(SPECIAL_TOKENS)) % 48
    return tokens, changed


def test_document_mask_keeps_a_document_independent_of_the_previous_one():
    torch.manual_seed(0)
    model = Transformer(ARGS).eval()
    tokens, changed = _document_pair()
    with torch.no_grad():
        a = model(tokens, attention_mask(tokens, prefix=None, document_mask=True))
        b = model(changed, attention_mask(changed, prefix=None, document_mask=True))
        plain_a, plain_b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, 6:], b[:, 6:])
    assert not torch.allclose(a[:, :6], b[:, :6])
    assert not torch.allclose(plain_a[:, 6:], plain_b[:, 6:])


def test_prefix_positions_see_later_prefix_tokens_and_nothing_after():
    torch.manual_seed(0)
    model = Transformer(ARGS).eval()
    tokens = torch.randint(len(SPECIAL_TOKENS), 100, (1, 16))
    mask = build_mask(16, prefix=torch.tensor([8]))
    in_prefix, after = tokens.clone(), tokens.clone()
    in_prefix[0, 7] = (in_prefix[0, 7] + 1) % 100
    after[0, 10] = (after[0, 10] + 1) % 100
    with torch.no_grad():
        base = model(tokens, mask)
        a, b = model(in_prefix, mask), model(after, mask)
    assert not torch.allclose(base[:, :7], a[:, :7])  # earlier prefix positions see token 7
    torch.testing.assert_close(base[:, :10], b[:, :10])  # token 10 is hidden before it
    assert not torch.allclose(base[:, 10:], b[:, 10:])


def test_a_causal_mask_matches_the_fast_path():
    torch.manual_seed(0)
    model = Transformer(ARGS).eval()
    tokens = torch.randint(0, 100, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(model(tokens, build_mask(16)), model(tokens))
