"""A folder of source files: one repository (a checkout, an unpacked archive, a Python
install), or with ``repos`` a folder of many, each top-level folder its own repository.

One file is one document. The walk (``listing``) skips version control internals, reads
only regular files, keeps symlinks inside the root and drops what it cannot read with a
reason; a file's bytes become text by the component's decoding rules
(``document.file_record``: ``binary``, ``not_utf8``). Its record is named ``repo`` = the
input's name (``name/sub-folder`` with ``repos``) and ``path`` = the path inside that
repository; a name that is not UTF-8 is recorded in its printable form (``\\xNN``).
"""

from __future__ import annotations

from collections.abc import Iterator

from pipelines.accounting import Drop
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record
from pipelines.sources.document import file_record
from pipelines.sources.listing import list_files, read_file, source_name
from pipelines.sources.unit import Unit


def list_units(spec: InputSpec, comp: ComponentSpec) -> Iterator[Unit | Drop]:
    """The files of the folder that ``include``/``exclude``/``max_files`` select, and
    drops for what cannot be read (see ``listing.list_files``)."""
    return list_files(spec, comp, include=spec.include, repos=spec.repos, licenses=True)


def read_unit(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop]:
    """One file as a record, or a ``read`` drop (``unreadable``, ``too_large``,
    ``read_timeout``, ``not_regular_file``, ``binary``, ``not_utf8``)."""
    location = f"{spec.label}:{unit.location}"
    data = read_file(spec, unit)
    if isinstance(data, str):
        yield Drop(comp.name, "read", data, location, spec.label)
        return
    repo, path = source_name(spec.url, spec.name), unit.path
    if unit.repo:
        repo, path = f"{repo}/{unit.repo}", path.split("/", 1)[1]
    yield file_record(data, spec=spec, comp=comp, repo=repo, path=path, location=location)
