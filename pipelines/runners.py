"""Which runner a pipeline runs on, and how, where the graph or the checks depend on it.

The build's output never depends on the runner; its scheduling may. Steps that wait for
one another (a side input used only to order them) bound what a batch runner holds at a
time, while a streaming one buffers whatever waits: see ``buffers_waiting_input``.
"""

from __future__ import annotations

import importlib

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner, SwitchingDirectRunner
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

DIRECT_RUNNERS = (SwitchingDirectRunner, BundleBasedDirectRunner, FnApiRunner)
"""The runners that run a whole pipeline in this process (their subclasses too, e.g.
``TestDirectRunner``)."""


def runner_class(name: str) -> type | None:
    """The class Beam's ``create_runner`` instantiates for ``--runner=name``: a known
    runner's name in any case, with or without the ``Runner`` suffix, or a fully qualified
    class path. None where Beam could not load it either (Beam then names the error)."""
    known = {path.rsplit(".", 1)[-1].lower(): path for path in StandardOptions.ALL_KNOWN_RUNNERS}
    path = known.get(name.lower(), known.get(name.lower() + "runner", name))
    module, _, cls = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), cls) if module else None
    except (ImportError, AttributeError):
        return None


def buffers_waiting_input(options: PipelineOptions) -> bool:
    """Whether the runner keeps the input of a step that waits for a side input in its
    workers' memory until the side input is ready: a streaming pipeline (Flink's, whose
    operator state is on the heap). A batch runner computes the side input first and then
    streams the input through (DirectRunner, Spark, Dataflow batch)."""
    return bool(options.view_as(StandardOptions).streaming)
