"""Benchmarks a trained checkpoint is scored on: HumanEval pass@k, run in a sandbox.

``passk`` is the estimator, ``sandbox`` runs one untrusted program under limits,
``humaneval`` reads the problems, generates completions and scores them.
"""
