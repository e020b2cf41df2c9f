"""Model FLOPs utilisation: the work a step does against what the hardware could do.

FLOPs per token follow the usual estimate for a decoder-only transformer (Kaplan et al.
2020; PaLM appendix B): ``6 * N`` for the matrix multiplies of the ``N`` non-embedding
parameters (forward and backward), plus ``12 * layers * dim * seq_len`` for attention's
score and value products. MFU is achieved FLOPs per second over the device's dense bf16
peak, from a table of known accelerators; on a device not in the table (or the CPU) there
is no MFU, rather than a made-up one.
"""

from __future__ import annotations

import torch

PEAK_BF16_FLOPS = {
    "H100": 989e12,   # SXM; the PCIe card is 756e12
    "H200": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 125e12,
    "L4": 121e12,
}
"""Dense bf16 tensor-core peak per device, by a name that appears in the device's name."""


def flops_per_token(*, params: int, embedding_params: int, n_layers: int, dim: int,
                    seq_len: int) -> float:
    """Training FLOPs per token (forward and backward).

    Args:
        params: all parameters of the model.
        embedding_params: those of the input embedding (a lookup, not a multiply).
        n_layers: transformer blocks.
        dim: residual width.
        seq_len: tokens per sequence.
    """
    return 6.0 * (params - embedding_params) + 12.0 * n_layers * dim * seq_len


def peak_flops(device: torch.device) -> float | None:
    """The device's dense bf16 peak, or None when it is not a known accelerator."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_FLOPS.items() if key in name), None)
