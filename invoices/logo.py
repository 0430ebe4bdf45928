"""The agency logo for invoice PDFs: fetched from its https URL with a short timeout.

Any failure (timeout, refused, not https, a private address, too large, not
an image) gives None and the PDF shows the agency's name alone. The URL is
the agency's to choose, so the fetch refuses addresses that are not public
(no requests into our own network) and does not follow redirects.
"""

import hashlib
import io
import ipaddress
import logging
import socket
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from PIL import Image

logger = logging.getLogger(__name__)
MAX_LOGO_BYTES = 512 * 1024
CACHE_SECONDS = 600
_NONE = b""  # cached failure


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _public_host(host: str) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%", 1)[0]).is_global for a in addresses)


def _download(url: str) -> bytes | None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or not _public_host(parts.hostname):
        return None
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"User-Agent": "invoice-pdf/1.0", "Accept": "image/*"})
    with opener.open(request, timeout=settings.INVOICE_LOGO_TIMEOUT_SECONDS) as response:
        body = response.read(MAX_LOGO_BYTES + 1)
    return body if len(body) <= MAX_LOGO_BYTES else None


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
    except Exception as exc:  # network errors of every kind: the PDF goes on without the logo
        logger.info("Invoice logo %s not fetched: %s", url, type(exc).__name__)
        data = None
    if data is not None and not image_ok(data):
        data = None
    cache.set(key, data or _NONE, CACHE_SECONDS)
    return data
