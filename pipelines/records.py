"""The one document record that flows through every pipeline stage.

Identity comes from content, not position: ``id`` hashes the source identity and the text,
so stages can be re-run, split or reordered by a runner and still agree on which document
is which (datatrove passes rank/file/doc positions between stages instead, which ties every
later stage to reading input exactly as the first did).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

KINDS = ("code", "text", "pair")


@dataclasses.dataclass(slots=True, kw_only=True)
class Record:
    """One document.

    Attributes:
        id: stable content-derived id, see ``record_id``.
        text: the document's text (for a pair: docstring and code, see ``pair_text``).
        kind: ``code``, ``text`` or ``pair``.
        lang: programming language (``python``, ``c``, ...) or natural language (``en``,
            or ``text`` when unknown); empty until language id has run.
        component: mixture component the record belongs to.
        repo: repository or collection the document came from (empty if none).
        path: path inside ``repo`` (or the source URL).
        license: SPDX id when known, else empty.
        meta: anything else (stars, revision, size); JSON values only.
        source: label of the input the record was read from (``InputSpec.label``), so the
            funnel can be reported per source; empty for records made inside the build.
        code: for a pair, the function's code.
        docstring: for a pair, the function's docstring.
    """

    id: str
    text: str
    kind: str
    lang: str
    component: str
    repo: str = ""
    path: str = ""
    license: str = ""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = ""
    code: str = ""
    docstring: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    def replace(self, **changes: Any) -> "Record":
        """A copy with some fields changed (records are treated as values)."""
        return dataclasses.replace(self, **changes)

    def shard_meta(self) -> dict[str, Any]:
        """The per-document metadata stored beside the tokens in a shard.

        A pair also stores ``source_id``, the id of the code document it was cut from (in
        another component's shards), so the trainer holds a source out of every component
        at once (``training.data.holdout``).
        """
        meta = {"id": self.id, "kind": self.kind, "lang": self.lang, "repo": self.repo,
                "path": self.path, "license": self.license, "source": self.source}
        # Near-dedup cluster of the kept document (set by the dedup stage).
        meta.update({k: self.meta[k] for k in ("cluster", "cluster_size") if k in self.meta})
        if "pair" in self.meta:
            meta["source_id"] = self.meta["pair"]["source_id"]
        return meta


def record_id(source: str, text: str) -> str:
    """Stable id of a document: sha256 over its source identity and its text (32 hex chars).

    Args:
        source: where the document came from, e.g. ``repo:path`` or ``url#line``; the same
            text from two places gets two ids (exact dedup, not identity, merges those).
        text: the document's text.
    """
    digest = hashlib.sha256()
    digest.update(source.encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


def content_hash(text: str) -> str:
    """sha256 of the text alone: the key of exact dedup."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
