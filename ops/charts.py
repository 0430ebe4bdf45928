"""Charts as SVG images, drawn on the server with pygal: no JavaScript, nothing loaded from elsewhere.

A chart is its own resource: the page links two sizes (desktop, and phone: taller, bigger labels) in a
<picture>, and the browser fetches the one that fits. The link carries a version of what the chart
is drawn from (`?v=`), so new data means a new URL: a response to the current version may be cached
for good, and a conditional request (If-None-Match) is answered 304 without drawing. pygal's inline
<script> (tooltip configuration for its optional JavaScript) is removed, so the SVG is inert markup.
The numbers are also on the page as a table, for screen readers and anyone who wants them exact.
"""

import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date

import pygal
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag, urlencode
from pygal.style import Style

SIZES = {"desktop": (800, 300), "phone": (360, 300)}
PHONE_MAX_WIDTH = 600  # px: narrower screens get the phone drawing
FOREVER = "private, max-age=31536000, immutable"
SVG_NS = "http://www.w3.org/2000/svg"


@dataclass(frozen=True)
class Chart:
    """A bar per day, and where its image is served: the URL name, its arguments, and query parameters
    the endpoint needs to draw the same series (a period)."""

    series: list[tuple[date, int]]
    color: str
    label: str
    url_name: str
    url_kwargs: tuple[tuple[str, object], ...] = ()
    query: tuple[tuple[str, str], ...] = ()

    def version(self, size: str) -> str:
        """Changes whenever the drawing would: the series, colour, label and size."""
        data = json.dumps([[(day.isoformat(), n) for day, n in self.series], self.color, self.label, size])
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    def src(self, size: str) -> str:
        path = reverse(self.url_name, kwargs={**dict(self.url_kwargs), "size": size})
        return f"{path}?{urlencode([*self.query, ('v', self.version(size))])}"

    @property
    def desktop_src(self) -> str:
        return self.src("desktop")

    @property
    def phone_src(self) -> str:
        return self.src("phone")

    @property
    def width(self) -> int:  # the <img> size attributes, so the page does not jump when it loads
        return SIZES["desktop"][0]

    @property
    def height(self) -> int:
        return SIZES["desktop"][1]

    @property
    def phone_width(self) -> int:
        return SIZES["phone"][0]

    @property
    def phone_max_width(self) -> int:
        return PHONE_MAX_WIDTH


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"


def chart_svg(series: list[tuple[date, int]], *, size: str, color: str, label: str) -> bytes:
    """One size of the chart as a standalone SVG document."""
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
        explicit_size=True,  # an image needs its size (it still scales: viewBox)
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
    title = ET.Element("title")
    title.text = label
    root.insert(0, title)
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("class", f"{root.get('class', '')} chart-{size}".strip())
    # ElementTree serialises (and escapes) the tree; its scripts were removed above.
    svg: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return svg


def chart_response(request: HttpRequest, chart: Chart, size: str) -> HttpResponse:
    """The chart drawn at `size`; 304 when the browser has this version; cached for good when asked by version."""
    if size not in SIZES:
        raise Http404("No such chart size.")
    version = chart.version(size)
    etag = quote_etag(version)
    response = get_conditional_response(request, etag=etag)  # what django's @condition uses: 304 on If-None-Match
    if response is None:
        response = HttpResponse(
            chart_svg(chart.series, size=size, color=chart.color, label=chart.label),
            content_type="image/svg+xml",
        )
    response["ETag"] = etag
    # Opened on its own (not as an <img>), the document may still not run or load anything: styles only.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["Cache-Control"] = FOREVER if request.GET.get("v") == version else "private, no-cache"
    return response
