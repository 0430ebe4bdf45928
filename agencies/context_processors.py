from django.conf import settings


def branding(request):
    """What the base layout needs to dress a page in the right brand."""
    agency = getattr(request, "agency", None)
    if agency is not None:
        return {
            "brand_name": agency.company_name,
            "brand_logo_url": agency.logo_url,
            "brand_primary": agency.primary_color,
            "brand_accent": agency.accent_color,
            "on_portal": True,
        }
    return {
        "brand_name": settings.PLATFORM_NAME,
        "brand_logo_url": "",
        "brand_primary": "#1F2937",
        "brand_accent": "#10B981",
        "on_portal": False,
    }
