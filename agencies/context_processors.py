from django.conf import settings

from core.contrast import readable_text_on, text_on_white

# The console's own colours; the accent is a green that white text reads on at AA.
CONSOLE_PRIMARY = "#1F2937"
CONSOLE_ACCENT = "#047857"


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
    brand["brand_on_primary"] = readable_text_on(brand["brand_primary"])
    brand["brand_on_accent"] = readable_text_on(brand["brand_accent"])
    # Links and figures are drawn in the brand colour on white: a darker shade when it is too light to read.
    brand["brand_primary_text"] = text_on_white(brand["brand_primary"])
    return brand
