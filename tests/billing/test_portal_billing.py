"""The client's billing page: balance and a paginated history of its own entries."""

from billing import ledger
from tests.conftest import host


def test_billing_page_shows_balance_and_history_with_balance_after(client, make_agency, make_client_user):
    agency = make_agency(active=True)
    user = make_client_user(agency)
    organization = user.organization
    ledger.credits_allocate(
        organization=organization, amount=300, description="Welcome bonus", actor=None, reference="a1"
    )
    ledger.credits_deduct(organization=organization, amount=40, description="Correction", actor=None, reference="d1")
    client.force_login(user)
    response = client.get("/billing/", HTTP_HOST=host(agency))
    assert response.status_code == 200
    assert 'data-testid="credits-balance">260<' in response.text
    rows = response.text.split('data-testid="history-row"')[1:]
    assert "Correction" in rows[0] and "-40" in rows[0] and "<td>260</td>" in rows[0]
    assert "Welcome bonus" in rows[1] and "+300" in rows[1] and "<td>300</td>" in rows[1]


def test_billing_history_is_paginated(client, make_agency, make_client_user):
    agency = make_agency(active=True)
    user = make_client_user(agency)
    for n in range(30):
        ledger.credits_allocate(
            organization=user.organization, amount=1, description=f"Gift {n}", actor=None, reference=f"g{n}"
        )
    client.force_login(user)
    first = client.get("/billing/", HTTP_HOST=host(agency))
    assert first.text.count('data-testid="history-row"') == 25 and "Gift 29" in first.text
    assert "Page 1 of 2" in first.text
    second = client.get("/billing/?page=2", HTTP_HOST=host(agency))
    assert second.text.count('data-testid="history-row"') == 5 and "Gift 0" in second.text


def test_billing_page_shows_only_the_clients_own_entries(client, make_agency, make_client_user):
    agency = make_agency(active=True)
    user, neighbour = make_client_user(agency), make_client_user(agency, company_name="Neighbour")
    ledger.credits_allocate(
        organization=neighbour.organization, amount=5, description="Neighbour's gift", actor=None, reference="n1"
    )
    client.force_login(user)
    response = client.get("/billing/", HTTP_HOST=host(agency))
    assert "Neighbour&#x27;s gift" not in response.text and 'data-testid="credits-balance">0<' in response.text


def test_billing_pages_need_a_client_login(client, make_agency):
    agency = make_agency(active=True)
    for path in ["/billing/", "/billing/buy/", "/billing/buy/success/?session_id=cs_x"]:
        response = client.get(path, HTTP_HOST=host(agency))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_portal_nav_links_to_billing_and_buying(client, make_agency, make_client_user):
    agency = make_agency(active=True)
    client.force_login(make_client_user(agency))
    response = client.get("/", HTTP_HOST=host(agency))
    assert 'href="/billing/"' in response.text and 'href="/billing/buy/"' in response.text
