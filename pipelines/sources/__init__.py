"""Input formats, chosen by name.

Each format module has the same two functions, so the pipeline reads any of them the same
way:

- ``list_units(spec, comp) -> Iterator[Unit | Drop]``: the units to read (files, or parts
  of big files), in a deterministic order, plus a drop for anything found while listing
  that cannot be read (a FIFO, a link out of the input, an unlistable folder). It runs as a
  pipeline step, not on the driver, so a huge listing stays in a PCollection.
- ``read_unit(spec, comp, unit) -> Iterator[Record | Drop]``: the documents of one unit;
  whatever cannot be read (a file, a line, an archive member, the rest of a truncated
  stream) becomes a ``Drop`` with a reason and a location, never an exception.

``comp`` is the component's spec: its name and kind label the records, and its ``clean``
rules say how bytes become text (``pipelines.charset``).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record
from pipelines.sources import archive, folder, git, jsonl, package_metadata, parquet, stack
from pipelines.sources.unit import Unit

FORMATS: dict[str, ModuleType] = {
    "folder": folder,
    "git": git,
    "archive": archive,
    "stack": stack,
    "parquet": parquet,
    "jsonl": jsonl,
    "package-metadata": package_metadata,
}


def list_units(spec: InputSpec, comp: ComponentSpec) -> Iterator[Unit | Drop]:
    """The units (files, or parts of files) an input consists of, in a deterministic order,
    and drops for what listing found unreadable."""
    return FORMATS[spec.format].list_units(spec, comp)


def read_unit(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop]:
    """The documents of one unit of an input, or drops for what could not be read."""
    return FORMATS[spec.format].read_unit(spec, comp, unit)


def read_input(spec: InputSpec, comp: ComponentSpec) -> Iterator[Record | Drop]:
    """Every document of an input and every drop, listed and read in this process: what the
    pipeline does across workers, for tests, benchmarks and small jobs."""
    for item in list_units(spec, comp):
        if isinstance(item, Drop):
            yield item
        else:
            yield from read_unit(spec, comp, item)
