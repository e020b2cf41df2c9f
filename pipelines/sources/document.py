"""One file's bytes as a record: the step every file-based source (folder, git, archive)
ends with, so they all decode, label and identify documents the same way."""

from __future__ import annotations

from typing import Any

from pipelines.accounting import Drop
from pipelines.charset import Decoded, decode
from pipelines.config import ComponentSpec, InputSpec
from pipelines.records import Record, record_id
from pipelines.sources.listing import for_license_only


def file_record(data: bytes, *, spec: InputSpec, comp: ComponentSpec, repo: str, path: str,
                location: str, meta: dict[str, Any] | None = None) -> Record | Drop:
    """A file's bytes as a record, or the drop saying why they cannot be one.

    Args:
        data: the file's content.
        spec: the input it came from (its ``label`` becomes the record's ``source``).
        comp: the component (name, kind, and the ``clean`` rules for decoding).
        repo: repository name recorded on the document.
        path: path inside the repository (printable UTF-8).
        location: how the drop log names the file when it is dropped.
        meta: extra metadata (blob id, commit date, stars...); ``bytes`` is added.

    Returns:
        The record (id from ``repo:path`` and the text; ``meta["license_file"]`` when it
        is a root license file read only for the repository's license,
        ``listing.for_license_only``), or a ``read`` drop (``binary``, ``not_utf8``).
    """
    decoded = decode(data, comp.clean)
    if not isinstance(decoded, Decoded):
        return Drop(comp.name, "read", decoded, location, spec.label, len(data))
    meta = {**(meta or {}), "bytes": len(data)}
    if decoded.edit:
        meta["edits"] = {decoded.edit: 1}
    if for_license_only(path, spec.include):
        meta["license_file"] = True
    source = f"{repo}:{path}"
    return Record(id=record_id(source, decoded.text), text=decoded.text, kind=comp.kind,
                  lang="", component=comp.name, repo=repo, path=path, meta=meta,
                  source=spec.label)
