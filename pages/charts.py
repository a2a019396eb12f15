"""Server-side SVG charts: no chart library, nothing to download, readable without JS.

Each chart is an accessible image (role="img" with a title and a description); the page
also shows the numbers as a table.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from pages.selectors import ShowAnalytics

INK = "#16161a"
MUTED = "#55555f"
BAR = "#5b21b6"
PIN = "#b91c1c"
GRID = "#d4d4dc"


def _clock(seconds: float) -> str:
    s = int(seconds)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def _nice_max(value: Decimal) -> Decimal:
    """A round top for the value axis, divisible into 5 round steps."""
    if value <= 0:
        return Decimal("10")
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        top = magnitude * step
        if top >= value:
            return top
    return magnitude * 10


def sales_timeline_svg(data: ShowAnalytics, *, width: int = 720, height: int = 260) -> SafeString:
    """Bars of GMV per time bucket over the show, with each pin as a numbered red line."""
    left, right, top, bottom = 56, 12, 26, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((b.gmv for b in data.buckets), default=Decimal("0")))
    n = max(1, len(data.buckets))
    slot = plot_w / n
    parts: list[str] = []
    for i in range(6):
        value = peak * i / 5
        y = top + plot_h - plot_h * i / 5
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{value.normalize():f}</text>'
        )
    for i, bucket in enumerate(data.buckets):
        h = float(bucket.gmv / peak) * plot_h if peak else 0
        x = left + i * slot + slot * 0.12
        label = escape(
            f"{_clock(bucket.start_s)}: {bucket.gmv} {data.currency}, {bucket.units} units"
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.76:.1f}" '
            f'height="{h:.1f}" fill="{BAR}"><title>{label}</title></rect>'
        )
    ticks = 6
    for i in range(ticks + 1):
        seconds = data.duration_s * i / ticks
        x = left + plot_w * i / ticks
        parts.append(
            f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" font-size="11" '
            f'fill="{MUTED}">{_clock(seconds)}</text>'
        )
    for number, pin in enumerate(data.pins, start=1):
        x = left + plot_w * min(pin.offset_s, data.duration_s) / data.duration_s
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{top + plot_h}" stroke="{PIN}" '
            f'stroke-width="2" stroke-dasharray="4 3"><title>{escape(pin.title)}</title></line>'
            f'<circle cx="{x:.1f}" cy="{top - 12}" r="9" fill="{PIN}"/>'
            f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle" font-size="11" '
            f'font-weight="700" fill="#fff">{number}</text>'
        )
    desc = (
        f"Sales of {data.gmv} {data.currency} in {data.orders} orders over "
        f"{_clock(data.duration_s)}, in buckets of {data.bucket_s} s; "
        f"{len(data.pins)} pins marked."
    )
    svg = format_html(
        '<svg viewBox="0 0 {} {}" role="img" aria-labelledby="sales-title sales-desc" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">'
        '<title id="sales-title">Sales over the show</title><desc id="sales-desc">{}</desc>'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="1"/>{}</svg>',
        width,
        height,
        desc,
        left,
        width - right,
        top + plot_h,
        top + plot_h,
        INK,
        mark_safe("".join(parts)),  # noqa: S308 (built above from numbers and escaped text)
    )
    return svg


def top_products_svg(data: ShowAnalytics, *, width: int = 720) -> SafeString:
    """Horizontal bars: GMV per product, best first, with units."""
    row, left, right = 30, 180, 120
    height = max(1, len(data.top_products)) * row + 10
    peak = max((p.gmv for p in data.top_products), default=Decimal("0")) or Decimal("1")
    parts: list[str] = []
    for i, p in enumerate(data.top_products):
        y = 5 + i * row
        w = float(p.gmv / peak) * (width - left - right)
        title = p.title if len(p.title) <= 26 else p.title[:25] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 18}" text-anchor="end" font-size="13" '
            f'fill="{INK}">{escape(title)}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{max(w, 1):.1f}" height="20" fill="{BAR}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 18}" font-size="12" fill="{MUTED}">'
            f"{p.gmv} · {p.units} u</text>"
        )
    return format_html(
        '<svg viewBox="0 0 {} {}" role="img" aria-labelledby="top-title" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">'
        '<title id="top-title">Top products by sales</title>{}</svg>',
        width,
        height,
        mark_safe("".join(parts)),  # noqa: S308 (built above from numbers and escaped text)
    )
