"""Input formats, chosen by name.

Each format module has the same two functions, so the pipeline reads any of them the same
way: ``list_units(spec) -> list[str]`` (the files to read, in a deterministic order; runs as
a pipeline step, not on the driver, so a huge listing stays in a PCollection) and
``read_unit(spec, component, kind, unit) -> Iterator[Record | Drop]`` (the documents of one
file; a file or line that cannot be read becomes a ``Drop`` with a reason, never an error).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType

from pipelines.accounting import Drop
from pipelines.config import InputSpec
from pipelines.records import Record
from pipelines.sources import folder, jsonl, package_metadata

FORMATS: dict[str, ModuleType] = {
    "folder": folder,
    "jsonl": jsonl,
    "package-metadata": package_metadata,
}


def list_units(spec: InputSpec) -> list[str]:
    """The files (or other units) an input consists of, in a deterministic order."""
    return FORMATS[spec.format].list_units(spec)


def read_unit(spec: InputSpec, component: str, kind: str,
              unit: str) -> Iterator[Record | Drop]:
    """The documents of one unit of an input, or drops for what could not be read."""
    reader: Callable[..., Iterator[Record | Drop]] = FORMATS[spec.format].read_unit
    return reader(spec, component, kind, unit)
