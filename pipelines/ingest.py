"""Reading every input of every component, as a Beam composite over ``pipelines.sources``.

Listing runs as a pipeline step (one element per input, fanning out to its units), a
reshuffle spreads the units over workers, and each unit is read on its own, so a big input
is read by many workers and nothing is listed or collected on the driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam

from pipelines import sources
from pipelines.accounting import Drop
from pipelines.config import BuildConfig
from pipelines.progress import tick
from pipelines.records import Record
from pipelines.sources.unit import Unit
from pipelines.stage import ApplyStage

InputKey = tuple[str, int]
"""(component name, index of the input in the component)."""


def list_input(key: InputKey, config: BuildConfig) -> Iterator[tuple[InputKey, Unit] | Drop]:
    """The units of one input, each with its input's key, and the drops listing found."""
    comp = config.component(key[0])
    for item in sources.list_units(comp.inputs[key[1]], comp):
        if not isinstance(item, Drop):
            tick("listed")
        yield item if isinstance(item, Drop) else (key, item)


def read_input_unit(item: tuple[InputKey, Unit], config: BuildConfig) -> Iterator[Record | Drop]:
    """The records and drops of one unit."""
    (name, index), unit = item
    comp = config.component(name)
    yield from sources.read_unit(comp.inputs[index], comp, unit)
    tick("units")


def source_counts(item: Record | Drop) -> Iterator[tuple[tuple, int]]:
    """Per-source counters of what a read produced: documents and bytes in (and, for a
    drop, the drop itself under its source)."""
    if isinstance(item, Drop):
        yield ("src_in", item.component, item.source), 1
        yield ("src_bytes", item.component, item.source), item.bytes
        yield ("in", item.component, "read"), 1
    else:
        yield ("src_in", item.component, item.source), 1
        yield ("src_bytes", item.component, item.source), _record_bytes(item)


def _record_bytes(record: Record) -> int:
    size: Any = record.meta.get("bytes")
    return size if isinstance(size, int) else len(record.text.encode("utf-8", "surrogatepass"))


class ReadSources(beam.PTransform):
    """Every input of every component as records; what cannot be read as drops.

    Returns ``(records, drops)``; listing and reading drops both come out as ``drops``.
    """

    def __init__(self, config: BuildConfig):
        super().__init__()
        self._config = config
        self._inputs = [(c.name, i) for c in config.components for i in range(len(c.inputs))]

    def expand(self, pbegin):
        config = self._config
        units, list_drops = (pbegin
                             | "Inputs" >> beam.Create(self._inputs)
                             | "List" >> ApplyStage(list_input, config, stage="read"))
        records, read_drops = (units
                               # NOTE: listing yields one bundle per input; spread the units.
                               | "Spread" >> beam.Reshuffle()
                               | "Read" >> ApplyStage(read_input_unit, config,
                                                              stage="read"))
        drops = (list_drops, read_drops) | "ReadDrops" >> beam.Flatten()
        return records, drops
