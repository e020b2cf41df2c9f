"""The shard format and manifest: the contract between the build and the trainer.

Imports neither Beam nor torch, so both sides (and users' own readers) can depend on it.
"""

from shards.format import Shard, ShardError, ShardInfo, dtype_for_vocab, write_shard
from shards.manifest import (ComponentEntry, Manifest, ManifestError, ShardEntry,
                             TokenizerEntry, load_manifest, write_manifest)

__all__ = ["ComponentEntry", "Manifest", "ManifestError", "Shard", "ShardEntry", "ShardError",
           "ShardInfo", "TokenizerEntry", "dtype_for_vocab", "load_manifest", "write_manifest",
           "write_shard"]
