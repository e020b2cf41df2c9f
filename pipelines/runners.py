"""Which runner a pipeline runs on, where the graph or the checks depend on it.

The build's output never depends on the runner; its scheduling may. A runner that holds
everything in one process (DirectRunner) is helped by steps that wait for one another,
while a streaming engine buffers whatever waits: see ``in_one_process``.
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


def in_one_process(options: PipelineOptions) -> bool:
    """Whether ``options`` run the pipeline on a direct runner, in this one process (the
    default runner when none is named)."""
    name = options.view_as(StandardOptions).runner or StandardOptions.DEFAULT_RUNNER
    cls = name if isinstance(name, type) else runner_class(name)
    return cls is not None and issubclass(cls, DIRECT_RUNNERS)
