"""Pages a client sees on its agency's portal."""

from django.shortcuts import render


def home(request):
    """The portal's front page: the client dashboard once logged in."""
    if not request.user.is_authenticated:
        return render(request, "portal/landing.html")
    return render(request, "portal/dashboard.html", {"organization": request.user.organization})
