"""The branding page: the portal's real address as a link, a live preview, a contrast warning (issue 12: 4, 12)."""

import pytest

BRANDING = {"company_name": "Sunrise Calls", "logo_url": "", "accent_color": "#047857", "slug": "sunrise"}


@pytest.fixture
def admin(make_agency, console):
    agency = make_agency(slug="sunrise", company_name="Sunrise Calls")
    console.force_login(agency.admin)
    return agency


def test_the_branding_page_links_the_portal_with_this_deployments_scheme_and_port(admin, console, settings):
    settings.PORTAL_SCHEME, settings.PORTAL_PUBLIC_PORT = "http", "8000"
    page = console.get("/console/branding/").text
    url = "http://sunrise.localhost:8000/"
    assert f'<a href="{url}" data-testid="branding-portal-url">{url}</a>' in page
    assert "https://&lt;slug&gt;" not in page


def test_a_light_primary_colour_is_warned_about_and_previewed_with_the_darker_text_shade(admin, console):
    response = console.post("/console/branding/", {**BRANDING, "primary_color": "#FDE68A"}, follow=True)
    page = response.text
    assert "Branding saved." in page
    warning = page[page.index('data-testid="contrast-warning"') :]
    warning = warning[: warning.index("</p>")]
    assert "hidden" not in warning.split(">")[0]
    assert "#FDE68A" in warning and "1.2" in warning and "4.5:1" in warning
    # The preview draws prices and links in the shade the portal will use, not the unreadable colour.
    from core.contrast import text_on_white

    shade = text_on_white("#FDE68A")
    assert shade in warning
    assert f'data-preview="text" style="color: {shade};"' in page


def test_a_dark_primary_colour_needs_no_warning(admin, console):
    response = console.post("/console/branding/", {**BRANDING, "primary_color": "#1E3A8A"}, follow=True)
    page = response.text
    start = page.index('data-testid="contrast-warning"')
    assert page[start : page.index(">", start)].endswith("hidden")
    assert 'data-preview="bar" style="background: #1E3A8A; color: #FFFFFF;' in page


def test_the_preview_follows_a_rejected_colour_without_saving_it(admin, console):
    response = console.post("/console/branding/", {**BRANDING, "primary_color": "#FDE68A", "slug": "No Slug!"})
    assert response.status_code == 400
    assert 'data-preview="bar" style="background: #FDE68A;' in response.text
    admin.refresh_from_db()
    assert admin.primary_color == "#123456"
