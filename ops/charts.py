"""Charts as SVG, drawn on the server with pygal: no JavaScript, nothing loaded from elsewhere.

Each chart is drawn twice, at a desktop and at a phone aspect ratio; the
stylesheet (static/css/charts.css) shows the one that fits the screen, and
both scale to the width they get (viewBox, no fixed size). pygal's inline
<script> (tooltip configuration for its optional JavaScript) is removed, so
the SVG is inert markup. The numbers are also on the page as a table, for
screen readers and anyone who wants them exact.
"""

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

SIZES = {"desktop": (800, 300), "phone": (360, 300)}


@dataclass(frozen=True)
class Chart:
    desktop: SafeString
    phone: SafeString
    label: str


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"


def _svg(series: list[tuple[date, int]], *, size: str, color: str, label: str) -> SafeString:
    width, height = SIZES[size]
    phone = size == "phone"
    style = Style(
        colors=(color,),
        background="transparent",
        plot_background="transparent",
        font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        foreground="#374151",
        foreground_strong="#111827",
        foreground_subtle="#E5E7EB",
        label_font_size=14 if phone else 12,
        major_label_font_size=14 if phone else 12,
    )
    chart = pygal.Bar(
        width=width,
        height=height,
        explicit_size=False,
        show_legend=False,
        style=style,
        js=[],
        disable_xml_declaration=True,
        show_minor_x_labels=False,
        x_labels_major_every=10 if phone else 5,
        truncate_label=-1,
        margin=8,
        spacing=4,
        min_scale=2,
        max_scale=5 if phone else 8,
        zero=0,
        show_y_guides=True,
        print_zeroes=False,
    )
    chart.x_labels = [_day(day) for day, _ in series]
    chart.add(label, [value for _, value in series])
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            if str(child.tag).endswith("script"):
                parent.remove(child)
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("class", f"{root.get('class', '')} chart-{size}".strip())
    # ElementTree serialises (and escapes) the tree; its scripts were removed above.
    return mark_safe(ET.tostring(root, encoding="unicode"))  # noqa: S308


def daily_minutes_chart(series: list[tuple[date, int]], *, color: str, label: str) -> Chart:
    """A bar per day: minutes billed that day."""
    return Chart(
        desktop=_svg(series, size="desktop", color=color, label=label),
        phone=_svg(series, size="phone", color=color, label=label),
        label=label,
    )
