"""Charts as inline SVG: the report must open anywhere, offline, with no script to load.

Four shapes cover the report: horizontal bars (a value per label), stacked horizontal bars
(a funnel: parts of a whole per label), a histogram (vertical bars over ordered bins) and
lines (training curves). Each returns one ``<figure class="chart">``; every data mark
carries ``class="mark"`` and a ``<title>`` with its exact value (the tooltip), so a test or
a reader can tell a drawn chart from an empty one. Given no data, a chart is a one-line
note saying so, never an empty frame.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
WIDTH = 760
LABEL_W = 220
ROW_H = 22


def _label(text: str, most: int = 34) -> str:
    """A bar's label, cut from the left to fit beside the bar (the tooltip has it whole)."""
    return _esc(text if len(text) <= most else "…" + text[-(most - 1):])


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt(value: float) -> str:
    """A number for a label: integers with thousands separators, others to 3 digits."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _figure(chart_id: str, title: str, body: str, height: int, legend: str = "") -> str:
    return (f'<figure class="chart" data-chart="{_esc(chart_id)}">'
            f"<figcaption>{_esc(title)}</figcaption>{legend}"
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img">{body}</svg></figure>')


def no_data(title: str, why: str) -> str:
    """What stands in for a chart with nothing to draw."""
    return f'<p class="note"><b>{_esc(title)}</b>: {_esc(why)}</p>'


def _legend(names: Sequence[str]) -> str:
    items = "".join(f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>'
                    f"{_esc(n)}</span>" for i, n in enumerate(names))
    return f'<div class="legend">{items}</div>'


def bars(chart_id: str, title: str, rows: Sequence[tuple[str, float]], unit: str = "") -> str:
    """One horizontal bar per ``(label, value)``, longest first as given."""
    rows = [(label, v) for label, v in rows if v > 0]
    if not rows:
        return no_data(title, "nothing to show")
    top = max(v for _, v in rows)
    span = WIDTH - LABEL_W - 90
    parts = []
    for i, (label, v) in enumerate(rows):
        y = i * ROW_H + 4
        w = max(1.0, span * v / top)
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end">{_label(label)}</text>'
            f'<rect class="mark" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{ROW_H - 6}" '
            f'fill="{PALETTE[0]}"><title>{_esc(label)}: {fmt(v)}{_esc(unit)}</title></rect>'
            f'<text x="{LABEL_W + w + 4:.1f}" y="{y + 14}">{fmt(v)}{_esc(unit)}</text>')
    return _figure(chart_id, title, "".join(parts), len(rows) * ROW_H + 8)


def stacked(chart_id: str, title: str,
            rows: Sequence[tuple[str, Mapping[str, float]]]) -> str:
    """One horizontal bar per label, split into its named parts (same colour per part
    name across bars), each bar scaled to the largest total."""
    rows = [(label, {k: v for k, v in parts.items() if v > 0}) for label, parts in rows]
    rows = [(label, parts) for label, parts in rows if parts]
    if not rows:
        return no_data(title, "nothing to show")
    names: list[str] = []
    for _, parts in rows:
        names += [k for k in parts if k not in names]
    top = max(sum(parts.values()) for _, parts in rows)
    span = WIDTH - LABEL_W - 90
    out = []
    for i, (label, parts) in enumerate(rows):
        y, x = i * ROW_H + 4, float(LABEL_W)
        out.append(f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end">{_label(label)}</text>')
        for name, v in parts.items():
            w = max(0.5, span * v / top)
            colour = PALETTE[names.index(name) % len(PALETTE)]
            out.append(f'<rect class="mark" x="{x:.1f}" y="{y}" width="{w:.1f}" '
                       f'height="{ROW_H - 6}" fill="{colour}"><title>{_esc(label)}: '
                       f"{_esc(name)} {fmt(v)}</title></rect>")
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 14}">{fmt(sum(parts.values()))}</text>')
    return _figure(chart_id, title, "".join(out), len(rows) * ROW_H + 8, _legend(names))


def histogram(chart_id: str, title: str, bins: Sequence[tuple[str, float]],
              x_label: str) -> str:
    """Vertical bars over ordered bins (``(bin label, count)``), empty bins included."""
    if not any(v > 0 for _, v in bins):
        return no_data(title, "nothing to show")
    height, left, bottom = 220, 50, 40
    top = max(v for _, v in bins)
    slot = (WIDTH - left - 10) / len(bins)
    out = [f'<text x="{WIDTH / 2}" y="{height - 4}" text-anchor="middle">{_esc(x_label)}</text>']
    for i, (label, v) in enumerate(bins):
        x = left + i * slot
        h = (height - bottom - 10) * v / top
        if v > 0:
            out.append(f'<rect class="mark" x="{x + 1:.1f}" y="{height - bottom - h:.1f}" '
                       f'width="{max(1.0, slot - 2):.1f}" height="{max(h, 1):.1f}" '
                       f'fill="{PALETTE[0]}"><title>{_esc(label)}: {fmt(v)}</title></rect>')
        if len(bins) <= 24 or i % math.ceil(len(bins) / 24) == 0:
            out.append(f'<text x="{x + slot / 2:.1f}" y="{height - bottom + 14}" '
                       f'text-anchor="middle" class="small">{_esc(label)}</text>')
    out.append(f'<text x="{left - 4}" y="18" text-anchor="end" class="small">{fmt(top)}</text>')
    return _figure(chart_id, title, "".join(out), height)


def lines(chart_id: str, title: str, series: Mapping[str, Sequence[tuple[float, float]]],
          x_label: str, y_label: str) -> str:
    """One polyline per named series of ``(x, y)`` points, on shared linear axes."""
    series = {k: [(x, y) for x, y in pts if math.isfinite(y)] for k, pts in series.items()}
    series = {k: pts for k, pts in series.items() if pts}
    if not series:
        return no_data(title, "nothing to show")
    height, left, bottom = 240, 60, 36
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1

    def px(x: float, y: float) -> str:
        return (f"{left + (WIDTH - left - 10) * (x - x0) / (x1 - x0):.1f},"
                f"{height - bottom - (height - bottom - 10) * (y - y0) / (y1 - y0):.1f}")

    out = [f'<text x="{WIDTH / 2}" y="{height - 4}" text-anchor="middle">{_esc(x_label)}</text>',
           f'<text x="{left - 4}" y="16" text-anchor="end" class="small">{fmt(y1)}</text>',
           f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end" class="small">'
           f"{fmt(y0)}</text>",
           f'<text x="{left}" y="{height - bottom + 14}" class="small">{fmt(x0)}</text>',
           f'<text x="{WIDTH - 10}" y="{height - bottom + 14}" text-anchor="end" '
           f'class="small">{fmt(x1)}</text>',
           f'<text x="12" y="{(height - bottom) / 2}" class="small" '
           f'transform="rotate(-90 12 {(height - bottom) / 2})">{_esc(y_label)}</text>']
    for i, (name, pts) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(px(x, y) for x, y in pts)
        if len(pts) == 1:
            out.append(f'<circle class="mark" cx="{px(*pts[0]).split(",")[0]}" '
                       f'cy="{px(*pts[0]).split(",")[1]}" r="3" fill="{colour}">'
                       f"<title>{_esc(name)}: {fmt(pts[0][1])}</title></circle>")
        else:
            out.append(f'<polyline class="mark" fill="none" stroke="{colour}" '
                       f'stroke-width="1.5" points="{points}"><title>{_esc(name)}: last '
                       f"{fmt(pts[-1][1])}</title></polyline>")
    return _figure(chart_id, title, "".join(out), height, _legend(list(series)))
