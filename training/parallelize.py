"""Apply the parallelisms to the model, in torchtitan's order: activation checkpointing,
then ``torch.compile``, then FSDP2 (each block, then the root).

Each transformer block (the encoder's too) is one ``fully_shard`` unit, then the root takes
what is left (embeddings, final norms, output projection, heads). Parameters are all-gathered one block at a time
in forward and backward and resharded afterwards, so peak memory holds one block's full
parameters, not the model's. Works with gloo on CPU (tests) and NCCL on CUDA.

The model may be built on the ``meta`` device (no storage); ``materialize`` then allocates
this rank's shards on the real device and initialises them after sharding.
"""

from __future__ import annotations

import torch
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

from training.model import Transformer

PARAM_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def device_mesh(world_size: int) -> DeviceMesh:
    """A 1-D data-parallel mesh over all ranks, on CUDA when available, else CPU."""
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    return init_device_mesh(device_type, (world_size,), mesh_dim_names=("dp",))


def resolve_dtype(dtype: str, device: torch.device) -> str:
    """``training.dtype`` with ``auto`` made concrete: bfloat16 on CUDA, float32 elsewhere."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.type == "cuda" else "float32"


def resolve_compile(compile: bool | str, device: torch.device) -> bool:
    """``training.compile`` with ``auto`` made concrete: on for CUDA, off elsewhere."""
    return device.type == "cuda" if compile == "auto" else bool(compile)


def checkpointed_blocks(n_layers: int, mode: str) -> list[int]:
    """Indices of the blocks ``activation_checkpointing=mode`` wraps: none, every second
    one (1, 3, ...) for ``selective``, all for ``full``."""
    if mode == "full":
        return list(range(n_layers))
    if mode == "selective":
        return list(range(1, n_layers, 2))
    return []


def parallelize(model: Transformer, mesh: DeviceMesh, *, param_dtype: str = "float32",
                activation_checkpointing: str = "none", compile: bool = False) -> Transformer:
    """Apply activation checkpointing, compile and FSDP2 to ``model`` in place; return it.

    Args:
        model: the unsharded model: initialised (every rank with the same weights) or on the
            ``meta`` device (then ``materialize`` it afterwards).
        mesh: the data-parallel mesh (``device_mesh``).
        param_dtype: ``float32`` or ``bfloat16``: dtype of the all-gathered parameters used
            in forward/backward. Sharded master weights and optimizer state stay float32,
            and gradients are reduced in float32.
        activation_checkpointing: ``none``, ``selective`` or ``full`` (``checkpointed_blocks``,
            applied to each stack of ``Transformer.block_stacks``).
        compile: ``torch.compile`` each block.

    Returns:
        The same module, its parameters now ``DTensor`` shards.
    """
    stacks = model.block_stacks()  # the encoder's blocks (if any), then the decoder's
    # NOTE: activation checkpointing first: the wrapper must sit inside the compiled
    # region and inside FSDP's unit, so that recomputation in backward re-runs the block's
    # forward with FSDP's hooks (parameters all-gathered again) and, when compiled, the
    # compiled code. ``checkpoint_wrapper`` (non-reentrant) keeps parameter names: its
    # state-dict hooks and DCP strip ``_checkpoint_wrapped_module``. Each stack is
    # checkpointed by its own indices, so ``selective`` spares every other block of both.
    for stack in stacks:
        for i in checkpointed_blocks(len(stack), activation_checkpointing):
            stack.register_module(str(i), checkpoint_wrapper(stack[str(i)]))
    # NOTE: compile per block, before sharding (torchtitan's order): every block of a stack
    # has the same code, so one graph per stack is compiled and reused, and FSDP's
    # all-gather and reduce-scatter stay outside the graph, between blocks, where they
    # overlap with compute. ``Module.compile`` compiles in place, so names do not change.
    blocks = [block for stack in stacks for block in stack.values()]
    if compile:
        for block in blocks:
            block.compile()
    mp_policy = MixedPrecisionPolicy(param_dtype=PARAM_DTYPES[param_dtype],
                                     reduce_dtype=torch.float32)
    for i, block in enumerate(blocks):
        # NOTE: the last block forward runs (the decoder's last) keeps its parameters
        # gathered after forward, since backward needs them right away; resharding them
        # would only cost an extra all-gather.
        fully_shard(block, mesh=mesh, mp_policy=mp_policy,
                    reshard_after_forward=i < len(blocks) - 1)
    # NOTE: blocks first, root last: fully_shard on the root groups only the parameters not
    # already in a block's group (embeddings, final norm, output), and the root must be
    # sharded after its children so it becomes the root of the FSDP hierarchy and drives
    # the lazy initialisation and the pre-forward/post-backward hooks of every block.
    fully_shard(model, mesh=mesh, mp_policy=mp_policy)
    return model


def set_gradient_sync(model: torch.nn.Module, sync: bool) -> None:
    """Whether the next backwards reduce gradients over ranks (FSDP's
    ``set_requires_gradient_sync``, recursing into the blocks); when off they accumulate
    unsharded local gradients, reduced by the next backward that syncs."""
    if isinstance(model, FSDPModule):
        model.set_requires_gradient_sync(sync)


@torch.no_grad()
def materialize(model: Transformer, device: torch.device, *, seed: int) -> Transformer:
    """Allocate a sharded ``meta`` model's storage on ``device`` and initialise it.

    Each parameter is filled whole on the CPU from a generator seeded with ``seed``, in the
    order of ``Transformer.init_plan``, and each rank keeps only its shard: the weights are
    exactly those of ``Transformer(args).init_weights(seed)`` on any number of ranks, while
    only one whole parameter at a time is ever allocated.
    """
    # NOTE: after sharding: ``to_empty`` then allocates only each rank's shards.
    model.to_empty(device=device)
    model.init_buffers()
    generator = torch.Generator().manual_seed(seed)
    for param, fill in model.init_plan():
        full = torch.empty(param.shape, dtype=param.dtype)
        fill(full, generator)
        if isinstance(param, DTensor):
            # src_data_rank=None: every rank holds the same whole tensor, no collective.
            full = distribute_tensor(full.to(device), param.device_mesh, param.placements,
                                     src_data_rank=None)
        param.copy_(full)
    return model
