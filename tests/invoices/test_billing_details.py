"""Settings > Billing for clients; seller and billing details in the agency console."""

from invoices.models import BillingDetails, SellerDetails
from tests.conftest import host

ADDRESS = {
    "company_name": "Client BV",
    "address_line1": "Damrak 1",
    "address_line2": "",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
}


def _post(client, agency, **changes):
    return client.post("/settings/billing/", {**ADDRESS, "vat_id": "", **changes}, HTTP_HOST=host(agency))


def test_a_client_saves_billing_details_with_a_vat_id_typed_loosely(client, make_agency, make_client_user):
    agency = make_agency(active=True)
    user = make_client_user(agency)
    client.force_login(user)
    assert client.get("/settings/billing/", HTTP_HOST=host(agency)).status_code == 200
    response = _post(client, agency, vat_id="nl 0044.95445.b01")
    assert response.status_code == 302
    details = BillingDetails.objects.get(organization=user.organization)
    assert (details.company_name, details.country, details.vat_id) == ("Client BV", "NL", "NL004495445B01")


def test_a_vat_id_with_a_wrong_check_digit_is_refused_and_nothing_is_saved(client, make_agency, make_client_user):
    agency = make_agency(active=True)
    client.force_login(make_client_user(agency))
    response = _post(client, agency, vat_id="NL004495446B01")
    assert response.status_code == 400
    assert "This is not a valid VAT ID for Netherlands: its check digit is wrong" in response.text
    assert not BillingDetails.objects.exists()


def test_a_vat_id_of_another_country_is_refused_and_the_saved_details_stay(client, make_agency, make_client_user):
    agency = make_agency(active=True)
    user = make_client_user(agency)
    client.force_login(user)
    assert _post(client, agency, vat_id="NL004495445B01").status_code == 302
    response = _post(client, agency, company_name="Other Name", vat_id="DE136695976")
    assert response.status_code == 400
    assert "This VAT ID starts with DE (Germany), but the billing country is Netherlands" in response.text
    details = BillingDetails.objects.get()
    assert (details.company_name, details.vat_id) == ("Client BV", "NL004495445B01")


def test_missing_fields_and_unknown_countries_are_refused(client, make_agency, make_client_user):
    agency = make_agency(active=True)
    client.force_login(make_client_user(agency))
    response = _post(client, agency, company_name="  ", country="XX")
    assert response.status_code == 400
    assert "Enter the name that goes on invoices." in response.text
    assert "Choose a country from the list (XX is not an ISO 3166 country code)." in response.text
    assert not BillingDetails.objects.exists()


def test_an_agency_sets_its_seller_details(console, make_agency):
    agency = make_agency(active=True)
    console.force_login(agency.admin)
    assert console.get("/console/invoices/seller/").status_code == 200
    response = console.post(
        "/console/invoices/seller/",
        {
            **ADDRESS,
            "company_name": "Acme Calls B.V.",
            "vat_id": "004495445B01",
            "invoice_prefix": "acme",
            "prices_include_vat": "False",
        },
    )
    assert response.status_code == 302
    seller = SellerDetails.objects.get(agency=agency)
    assert (seller.company_name, seller.vat_id, seller.invoice_prefix, seller.prices_include_vat) == (
        "Acme Calls B.V.",
        "NL004495445B01",
        "ACME",
        False,
    )


def test_seller_details_refuse_a_bad_prefix_and_an_eu_seller_without_vat_id(console, make_agency):
    agency = make_agency(active=True)
    console.force_login(agency.admin)
    response = console.post(
        "/console/invoices/seller/",
        {
            **ADDRESS,
            "vat_id": "",
            "invoice_prefix": "AC-ME",
            "prices_include_vat": "True",
        },
    )
    assert response.status_code == 400
    assert "Use 2 to 10 capital letters or digits, for example ACME." in response.text
    assert "A seller in Netherlands prints its VAT ID on its invoices. Enter it." in response.text
    assert not SellerDetails.objects.exists()


def test_an_agency_keeps_its_own_billing_details_for_platform_invoices(console, make_agency):
    agency = make_agency(active=True)
    console.force_login(agency.admin)
    bad = console.post("/console/invoices/billing/", {**ADDRESS, "country": "GR", "vat_id": "EL094259217"})
    assert bad.status_code == 400 and "not a valid VAT ID for Greece" in bad.text
    good = console.post("/console/invoices/billing/", {**ADDRESS, "country": "GR", "vat_id": "GR094259216"})
    assert good.status_code == 302
    details = BillingDetails.objects.get(agency=agency)
    assert (details.organization_id, details.vat_id) == (None, "EL094259216")
