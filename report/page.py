"""The report's HTML: one self-contained file (inline CSS and SVG, no script, no fetch)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from report.svg import fmt

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:820px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{padding:2px 10px;border-bottom:1px solid #eee}
td.n,th.n{text-align:right}figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}
svg text{font-size:12px;fill:#333}svg text.small{font-size:10px}
.legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;
height:10px;margin-right:4px}.note{color:#555}code{font-size:12px}
"""


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain table; numbers are right-aligned and formatted with ``fmt``."""
    def cell(tag: str, value: object) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f'<{tag} class="n">{fmt(value)}</{tag}>'
        return f"<{tag}>{html.escape(str(value))}</{tag}>"
    head = "".join(cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def document(title: str, sections: Sequence[str]) -> str:
    """The whole page."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            # An empty icon: no request for /favicon.ico, which file:// pages log as an error.
            "<link rel=\"icon\" href=\"data:,\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>\n")
