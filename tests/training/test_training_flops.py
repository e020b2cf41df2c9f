"""training.flops: FLOPs per token and the peak table."""

import torch

from training.flops import flops_per_token, peak_flops


def test_flops_per_token_counts_matmuls_and_attention():
    # 1B config: 20 layers of dim 2048, hidden 5632, vocab 51,200 (tied or not, the
    # embedding lookup is excluded; the output projection is a multiply and counts).
    dim, layers, hidden, vocab, seq = 2048, 20, 5632, 51_200, 2048
    block = 4 * dim * dim + 3 * dim * hidden
    params = layers * block + 2 * vocab * dim
    flops = flops_per_token(params=params, embedding_params=vocab * dim, n_layers=layers,
                            dim=dim, seq_len=seq)
    assert flops == 6 * (layers * block + vocab * dim) + 12 * layers * dim * seq


def test_no_peak_on_the_cpu():
    assert peak_flops(torch.device("cpu")) is None
