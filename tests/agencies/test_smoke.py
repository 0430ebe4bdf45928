from tests.conftest import host


def test_portal_home_shows_agency_brand(client, make_agency):
    agency = make_agency(active=True, company_name="Acme Calls")
    response = client.get("/", HTTP_HOST=host(agency))
    assert response.status_code == 200
    assert "Acme Calls" in response.text
