"""Data parallelism with FSDP2: shard parameters, gradients and optimizer state over ranks.

Each transformer block is one ``fully_shard`` unit, then the root takes what is left
(embeddings, final norm, output projection). Parameters are all-gathered one block at a time
in forward and backward and resharded afterwards, so peak memory holds one block's full
parameters, not the model's. Works with gloo on CPU (tests) and NCCL on CUDA.
"""

from __future__ import annotations

import torch
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

from training.model import Transformer

PARAM_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def device_mesh(world_size: int) -> DeviceMesh:
    """A 1-D data-parallel mesh over all ranks, on CUDA when available, else CPU."""
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    return init_device_mesh(device_type, (world_size,), mesh_dim_names=("dp",))


def parallelize(model: Transformer, mesh: DeviceMesh, *,
                param_dtype: str = "float32") -> Transformer:
    """Shard ``model`` in place with FSDP2 and return it.

    Args:
        model: the unsharded model, already initialised (every rank with the same weights).
        mesh: the data-parallel mesh (``device_mesh``).
        param_dtype: ``float32`` or ``bfloat16``: dtype of the all-gathered parameters used
            in forward/backward. Sharded master weights and optimizer state stay float32,
            and gradients are reduced in float32.

    Returns:
        The same module, its parameters now ``DTensor`` shards.
    """
    mp_policy = MixedPrecisionPolicy(param_dtype=PARAM_DTYPES[param_dtype],
                                     reduce_dtype=torch.float32)
    blocks = list(model.layers.values())
    for i, block in enumerate(blocks):
        # NOTE: the last block keeps its parameters gathered after forward, since backward
        # needs them right away; resharding them would only cost an extra all-gather.
        fully_shard(block, mesh=mesh, mp_policy=mp_policy,
                    reshard_after_forward=i < len(blocks) - 1)
    # NOTE: blocks first, root last: fully_shard on the root groups only the parameters not
    # already in a block's group (embeddings, final norm, output), and the root must be
    # sharded after its children so it becomes the root of the FSDP hierarchy and drives
    # the lazy initialisation and the pre-forward/post-backward hooks of every block.
    fully_shard(model, mesh=mesh, mp_policy=mp_policy)
    return model
