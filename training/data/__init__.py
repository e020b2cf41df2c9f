"""The trainer's input: manifest and shards -> packed sequences -> mixture -> per-rank batches.

``corpus`` opens and checks the manifest, ``packing`` cuts a component's documents into
fixed-length sequences, ``sampler`` decides which sequence each global sample index is, and
``loader`` turns a step and a rank into a batch. Nothing here carries random state.
"""
