"""The agency logo for invoice PDFs: fetched from its https URL with a short timeout.

Any failure (timeout, refused, not https, a private address, too large, not
an image) gives None and the PDF shows the agency's name alone. The URL is
the agency's to choose, so the fetch goes through core.outbound, the client
every tenant-chosen URL uses: it refuses addresses that are not public (no
requests into our own network), checked on the connected peer, and does not
follow redirects.
"""

import hashlib
import io
import logging

from django.conf import settings
from django.core.cache import cache
from PIL import Image

from core import outbound

logger = logging.getLogger(__name__)
MAX_LOGO_BYTES = 512 * 1024
CACHE_SECONDS = 600
_NONE = b""  # cached failure


def _download(url: str) -> bytes | None:
    answer = outbound.request(
        "GET",
        url,
        headers={"Accept": "image/*"},
        timeout=settings.INVOICE_LOGO_TIMEOUT_SECONDS,
        max_bytes=MAX_LOGO_BYTES,
        schemes=("https",),
    )
    return answer.body if answer.status == 200 else None


def image_ok(data: bytes) -> bool:
    """Whether `data` is a raster image the PDF can embed (PNG, JPEG, GIF)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            return image.format in {"PNG", "JPEG", "GIF"}
    except Exception:  # Pillow raises many kinds for bad data
        return False


def logo_fetch(url: str) -> bytes | None:
    """The logo's bytes, or None. Answers (and failures) are cached for a few minutes."""
    if not url:
        return None
    key = "invoice-logo:" + hashlib.sha256(url.encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    try:
        data = _download(url)
    except Exception as error:  # OutboundError (refused, unreachable, too large) or worse: never the PDF's end
        logger.info("Invoice logo %s not fetched: %s", url, error)
        data = None
    if data is not None and not image_ok(data):
        data = None
    cache.set(key, data or _NONE, CACHE_SECONDS)
    return data
