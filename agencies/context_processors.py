from django.conf import settings

DARK_TEXT = "#111827"
LIGHT_TEXT = "#FFFFFF"


def readable_text_on(background: str) -> str:
    """Dark or light text, whichever reads better on a #RRGGBB background
    (perceived brightness, YIQ weights, integer arithmetic)."""
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return DARK_TEXT if (red * 299 + green * 587 + blue * 114) // 1000 >= 150 else LIGHT_TEXT


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
            "brand_primary": "#1F2937",
            "brand_accent": "#10B981",
            "on_portal": False,
        }
    brand["brand_on_primary"] = readable_text_on(brand["brand_primary"])
    brand["brand_on_accent"] = readable_text_on(brand["brand_accent"])
    return brand
