"""The base layout on every host: branded 404s, the tab icon, the skip link, the current page in the
navigation, messages announced to screen readers and form fields whose descriptions exist."""

import re

import pytest
from django.templatetags.static import static
from django.urls import reverse

from agencies.models import Agency
from tests.conftest import host


@pytest.fixture
def acme(make_agency):
    agency = make_agency(active=True, company_name="Acme Calls", slug="acme")
    Agency.objects.filter(pk=agency.pk).update(primary_color="#7C2D12")
    return agency


def test_unknown_page_on_a_portal_is_a_404_in_the_agencys_brand(client, acme):
    response = client.get("/no-such-page/", HTTP_HOST=host(acme))

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "We could not find that page" in response.text
    assert "Acme Calls" in response.text
    assert "--brand-primary: #7C2D12" in response.text
    assert 'href="/"' in response.text


def test_another_tenants_object_is_a_branded_404_too(client, acme, make_client_user):
    user = make_client_user(acme)
    client.force_login(user)

    response = client.get("/settings/billing/invoices/999999.pdf", HTTP_HOST=host(acme))

    assert response.status_code == 404
    assert "Acme Calls" in response.text


def test_unknown_page_on_the_console_is_a_plain_404(console, acme):
    response = console.get("/no-such-page/")

    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "Acme Calls" not in response.text


def test_favicon_is_the_agencys_logo_when_it_is_an_image(client, acme):
    Agency.objects.filter(pk=acme.pk).update(logo_url="https://cdn.acme.example/logo.png?v=2")

    page = client.get("/accounts/login/", HTTP_HOST=host(acme))
    icon = client.get("/favicon.ico", HTTP_HOST=host(acme))

    assert '<link rel="icon" href="https://cdn.acme.example/logo.png?v=2">' in page.text
    assert icon.status_code == 302 and icon["Location"] == "https://cdn.acme.example/logo.png?v=2"


@pytest.mark.parametrize("logo_url", ["", "https://acme.example/brand"])
def test_favicon_is_the_default_without_an_image_logo(client, console, acme, logo_url):
    Agency.objects.filter(pk=acme.pk).update(logo_url=logo_url)
    default = static("img/favicon.svg")

    portal_page = client.get("/accounts/login/", HTTP_HOST=host(acme))
    portal_icon = client.get("/favicon.ico", HTTP_HOST=host(acme))
    console_icon = console.get("/favicon.ico")

    assert f'<link rel="icon" href="{default}">' in portal_page.text
    assert portal_icon.status_code == 302 and portal_icon["Location"] == default
    assert console_icon.status_code == 302 and console_icon["Location"] == default
    assert client.get(default, HTTP_HOST=host(acme)).status_code == 200


def test_every_page_starts_with_a_skip_link_to_the_main_content(console, acme):
    console.force_login(acme.admin)

    page = console.get(reverse("console:dashboard")).text

    body = page[page.index("<body>") :]
    first_link = re.search(r"<a [^>]*>[^<]*</a>", body)
    assert first_link and 'href="#content"' in first_link.group(0) and "Skip to content" in first_link.group(0)
    assert '<main id="content"' in page


def test_the_current_page_is_marked_in_the_navigation(console, acme):
    console.force_login(acme.admin)

    page = console.get(reverse("console:packages")).text

    current = re.findall(r'<a href="([^"]*)" aria-current="page"', page)
    assert current == [reverse("console:packages")]


def test_the_current_page_is_marked_on_the_portal(client, acme, make_client_user):
    client.force_login(make_client_user(acme))

    page = client.get(reverse("billing:buy", urlconf="portal.urls_portal"), HTTP_HOST=host(acme)).text

    assert re.findall(r'<a href="([^"]*)" aria-current="page"', page) == ["/billing/buy/"]


def test_messages_are_announced_and_errors_as_alerts(console, acme):
    console.force_login(acme.admin)

    added = console.post(
        reverse("console:packages"), {"credits": "100", "price": "40.00", "currency": "EUR"}, follow=True
    )
    refused = console.post(reverse("console:domain_refresh"), follow=True)

    assert '<p class="success" role="status">Package added.</p>' in added.text
    assert '<p class="error" role="alert">Add a custom domain first.</p>' in refused.text


def test_form_fields_point_only_at_descriptions_that_exist(console, acme):
    console.force_login(acme.admin)

    page = console.post(reverse("console_invoices:seller"), {"legal_name": ""}).text

    described = re.findall(r'aria-describedby="([^"]+)"', page)
    assert described, "the invalid seller form describes its fields"
    for ids in described:
        for element_id in ids.split():
            assert f'id="{element_id}"' in page, f"aria-describedby names #{element_id}, which is not on the page"


def test_radio_groups_are_fieldsets_with_a_legend(console, acme):
    console.force_login(acme.admin)

    page = console.get(reverse("console_invoices:seller")).text

    assert re.search(r"<fieldset[^>]*>\s*<legend>Package prices</legend>", page)
