"""SVG plots without a browser or a plotting library: line charts with shaded windows.

Readable on GitHub and in any browser: plain SVG 1.1, no scripts, no external fonts.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 760, 240, 60, 20, 30, 40
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _scale(lo: float, hi: float, out_lo: float, out_hi: float):
    span = (hi - lo) or 1.0
    return lambda v: out_lo + (v - lo) / span * (out_hi - out_lo)


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top``: steps of 1, 2 or 5 times a power of ten."""
    raw = max(top, 1e-9) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [round(step * i, 10) for i in range(math.ceil(top / step - 1e-9) + 1)] if top > 0 else [0.0, 1.0]


def line_chart(
    title: str,
    series: dict[str, list[tuple[float, float]]],
    y_label: str,
    windows: list[tuple[float, float, str]] = (),
    step: bool = False,
    x_max: float | None = None,
) -> str:
    """One chart: named series of (t, value) points, windows shaded with a label."""
    points = [p for s in series.values() for p in s]
    xs = [p[0] for p in points] + [w[1] for w in windows] + [0.0]
    x_hi = x_max if x_max is not None else max(xs)
    ticks = nice_ticks(max([p[1] for p in points] + [1.0]))
    y_hi = ticks[-1]
    sx = _scale(0, x_hi, PAD_L, W - PAD_R)
    sy = _scale(0, y_hi, H - PAD_B, PAD_T)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
    ]
    for start, end, label in windows:
        x0, x1 = sx(start), sx(end)
        out.append(
            f'<rect x="{x0:.1f}" y="{PAD_T}" width="{max(x1 - x0, 1):.1f}" height="{H - PAD_T - PAD_B}" '
            'fill="#f4a582" fill-opacity="0.35"/>'
        )
        out.append(f'<text x="{x0 + 3:.1f}" y="{PAD_T + 12}" fill="#b2182b">{escape(label)}</text>')
    out.append(f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="black"/>')
    out.append(f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="black"/>')
    for v in ticks:
        out.append(f'<text x="{PAD_L - 5}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        out.append(f'<line x1="{PAD_L}" y1="{sy(v):.1f}" x2="{W - PAD_R}" y2="{sy(v):.1f}" stroke="#eee"/>')
    for i in range(6):
        v = x_hi * i / 5
        out.append(f'<text x="{sx(v):.1f}" y="{H - PAD_B + 15}" text-anchor="middle">{v:.0f}s</text>')
    out.append(
        f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle">{escape(y_label)}</text>'
    )
    for i, (name, pts) in enumerate(series.items()):
        if not pts:
            continue
        color = COLORS[i % len(COLORS)]
        coords = []
        for j, (x, y) in enumerate(pts):
            if step and j:
                coords.append(f"{sx(x):.1f},{sy(pts[j - 1][1]):.1f}")
            coords.append(f"{sx(x):.1f},{sy(y):.1f}")
        if step:
            coords.append(f"{sx(x_hi):.1f},{sy(pts[-1][1]):.1f}")
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{" ".join(coords)}"/>')
        out.append(
            f'<text x="{W - PAD_R - 5}" y="{PAD_T + 14 + 13 * i}" text-anchor="end" fill="{color}">'
            f"{escape(name)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def fault_windows(faults: list[dict[str, Any]], end: float) -> list[tuple[float, float, str]]:
    """Pair fault start/end events into shaded windows (an unended fault runs to ``end``)."""
    windows: list[tuple[float, float, str]] = []
    open_: dict[tuple[str, str], float] = {}
    for f in faults:
        key = (f["name"], f["target"])
        if f["phase"] == "start":
            open_[key] = f["t"]
        elif key in open_:
            windows.append((open_.pop(key), f["t"], f"{f['name']} {f['target']}"))
    windows += [(t, end, f"{n} {tg}") for (n, tg), t in open_.items()]
    return windows


def bar_chart(title: str, bars: list[tuple[str, float | None]], y_label: str) -> str:
    """One horizontal bar per labelled value (a variant's measurement), value printed at
    its end; a missing value is drawn as "n/a". For comparing variants at a glance."""
    row, label_w = 26, 300
    height = PAD_T + row * len(bars) + PAD_B
    top = nice_ticks(max([v for _, v in bars if v is not None] + [1e-9]))[-1]
    sx = _scale(0, top, label_w, W - PAD_R - 60)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{W}" height="{height}" fill="white"/>',
        f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = PAD_T + row * i
        out.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{escape(label[:48])}</text>')
        if value is None:
            out.append(f'<text x="{label_w + 4}" y="{y + 16}" fill="#888">n/a</text>')
            continue
        color = COLORS[i % len(COLORS)]
        out.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{max(sx(value) - label_w, 1):.1f}" height="{row - 8}" '
            f'fill="{color}"/>'
        )
        out.append(f'<text x="{sx(value) + 4:.1f}" y="{y + 16}">{value:g}</text>')
    axis_y = PAD_T + row * len(bars) + 4
    out.append(f'<line x1="{label_w}" y1="{axis_y}" x2="{W - PAD_R - 60}" y2="{axis_y}" stroke="black"/>')
    out.append(
        f'<text x="{(label_w + W - PAD_R - 60) / 2}" y="{axis_y + 18}" text-anchor="middle">{escape(y_label)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)
