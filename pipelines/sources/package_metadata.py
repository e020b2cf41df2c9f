"""Prose from installed Python packages: the long descriptions in ``*.dist-info/METADATA``.

Real, varied English (READMEs as published on package indexes), present on every machine
that has Python packages installed, which makes it the demo's text component. The body of
the metadata file (or its ``Description`` header in old metadata versions) is the document;
name and version become repo and path, ``License-Expression`` or ``License`` the license.
The folder is walked as ``folder`` walks one (``listing``), keeping only the METADATA files.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator

from pipelines.accounting import Drop
from pipelines.charset import Decoded, decode
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record, record_id
from pipelines.sources.listing import list_files, read_file
from pipelines.sources.unit import Unit

PATTERN = "*.dist-info/METADATA"
"""Where the metadata sits, relative to a site-packages folder."""

_MAX_LICENSE_CHARS = 64
"""A longer license field is the whole license text pasted in, not a name."""


def list_units(spec: InputSpec, comp: ComponentSpec) -> Iterator[Unit | Drop]:
    """The METADATA files of the packages installed in the folder (``exclude`` and
    ``max_files`` apply)."""
    return list_files(spec, comp, include=(PATTERN,), repos=False)


def to_record(data: bytes, *, spec: InputSpec, comp: ComponentSpec,
              location: str) -> Record | Drop:
    """One METADATA file as a record of its long description.

    Args:
        data: the file's bytes, decoded by the component's ``clean`` rules.
        spec: the input (its label is the record's ``source``).
        comp: the component (name, kind, decoding rules).
        location: how the drop log names the file.

    Returns:
        The record (repo = package name, path = ``name==version``), or a ``read`` drop:
        ``binary``/``not_utf8``, or ``no_text`` when there is no description.
    """
    decoded = decode(data, comp.clean)
    if not isinstance(decoded, Decoded):
        return Drop(comp.name, "read", decoded, location, spec.label, len(data))
    msg = email.parser.Parser(policy=email.policy.compat32).parsestr(decoded.text)
    body = msg.get_payload()
    description = body if isinstance(body, str) and body.strip() else msg.get("Description", "")
    description = description.strip()
    if not description:
        return Drop(comp.name, "read", "no_text", location, spec.label, len(data))
    name, version = msg.get("Name", ""), msg.get("Version", "")
    license_ = msg.get("License-Expression") or msg.get("License") or ""
    license_ = license_ if len(license_) <= _MAX_LICENSE_CHARS else ""
    meta: dict = {"version": version}
    if decoded.edit:
        meta["edits"] = {decoded.edit: 1}
    source = f"pypi:{name}=={version}"
    return Record(id=record_id(source, description), text=description, kind=comp.kind,
                  lang="", component=comp.name, repo=name, path=f"{name}=={version}",
                  license=license_.strip(), meta=meta, source=spec.label)


def read_unit(spec: InputSpec, comp: ComponentSpec, unit: Unit) -> Iterator[Record | Drop]:
    """One METADATA file as a record, or a ``read`` drop."""
    location = f"{spec.label}:{unit.location}"
    data = read_file(spec, unit)
    if isinstance(data, str):
        yield Drop(comp.name, "read", data, location, spec.label)
        return
    yield to_record(data, spec=spec, comp=comp, location=location)
