from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage

from core.contrast import readable_text_on, text_on_white

# The console's own colours; the accent is a green that white text reads on at AA.
CONSOLE_PRIMARY = "#1F2937"
CONSOLE_ACCENT = "#047857"
# A logo URL whose path ends so is an image a browser can show as a tab icon.
ICON_SUFFIXES = (".png", ".svg", ".ico", ".gif", ".jpg", ".jpeg", ".webp")


def favicon_url(agency) -> str:
    """The tab icon: the agency's logo when it is an image, else the platform's default icon."""
    if agency is not None and urlsplit(agency.logo_url).path.lower().endswith(ICON_SUFFIXES):
        return agency.logo_url
    return staticfiles_storage.url("img/favicon.svg")


def branding(request):
    """What the base layout needs to dress a page in the right brand."""
    agency = getattr(request, "agency", None)
    if agency is not None:
        brand = {
            "brand_name": agency.company_name,
            "brand_logo_url": agency.logo_url,
            "brand_primary": agency.primary_color,
            "brand_accent": agency.accent_color,
            "on_portal": True,
        }
    else:
        brand = {
            "brand_name": settings.PLATFORM_NAME,
            "brand_logo_url": "",
            "brand_primary": CONSOLE_PRIMARY,
            "brand_accent": CONSOLE_ACCENT,
            "on_portal": False,
        }
    brand["brand_favicon_url"] = favicon_url(agency)
    brand["brand_on_primary"] = readable_text_on(brand["brand_primary"])
    brand["brand_on_accent"] = readable_text_on(brand["brand_accent"])
    # Links and figures are drawn in the brand colour on white: a darker shade when it is too light to read.
    brand["brand_primary_text"] = text_on_white(brand["brand_primary"])
    return brand
