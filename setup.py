"""Minimal shim: Beam's ``--setup_file`` (Dataflow, Spark, Flink workers) needs a setup.py.

All metadata lives in setup.cfg.
"""
from setuptools import setup

setup()
