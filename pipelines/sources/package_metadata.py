"""Prose from installed Python packages: the long descriptions in ``*.dist-info/METADATA``.

Real, varied English (READMEs as published on package indexes), present on every machine
that has Python packages installed, which makes it the demo's text component. The body of
the metadata file (or its ``Description`` header in old metadata versions) is the document;
name and version become repo and path, ``License-Expression`` or ``License`` the license.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator

import fsspec

from pipelines.accounting import Drop
from pipelines.config import InputSpec
from pipelines.records import Record, record_id
from pipelines.sources.folder import decode
from pipelines.sources.listing import join, list_files


def list_units(spec: InputSpec) -> list[str]:
    return list_files(spec.url, ("*.dist-info/METADATA",), spec.exclude, spec.max_files)


def to_record(data: bytes, *, unit: str, component: str, kind: str) -> Record | Drop:
    """One METADATA file as a record of its long description."""
    text = decode(data)
    if text is None:
        return Drop(component, "read", "not_utf8", unit)
    msg = email.parser.Parser(policy=email.policy.compat32).parsestr(text)
    body = msg.get_payload()
    description = body if isinstance(body, str) and body.strip() else msg.get("Description", "")
    description = description.strip()
    if not description:
        return Drop(component, "read", "no_text", unit)
    name, version = msg.get("Name", ""), msg.get("Version", "")
    license_ = msg.get("License-Expression") or msg.get("License") or ""
    license_ = license_ if len(license_) <= 64 else ""  # some packages paste the whole text
    source = f"pypi:{name}=={version}"
    return Record(id=record_id(source, description), text=description, kind=kind,
                  lang="", component=component, repo=name, path=f"{name}=={version}",
                  license=license_.strip(), meta={"version": version})


def read_unit(spec: InputSpec, component: str, kind: str, unit: str) -> Iterator[Record | Drop]:
    try:
        with fsspec.open(join(spec.url, unit), "rb") as f:
            data = f.read()
    except OSError:
        yield Drop(component, "read", "unreadable", unit)
        return
    yield to_record(data, unit=unit, component=component, kind=kind)
