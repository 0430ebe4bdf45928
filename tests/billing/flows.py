"""What clients, agencies and Stripe do in the billing tests, over the real HTTP paths."""

import threading

from django.db import connection

from billing.models import Purchase
from tests.conftest import host


def webhook_post(client, agency, payload: str, signature: str | None, *, slug: str | None = None):
    """POST a webhook body to the portal as Stripe does (console host, raw JSON body)."""
    headers = {"HTTP_HOST": "localhost"}
    if signature is not None:
        headers["HTTP_STRIPE_SIGNATURE"] = signature
    return client.post(
        f"/api/webhooks/stripe/{slug or agency.slug}", data=payload, content_type="application/json", **headers
    )


def deliver(client, agency, delivery: dict):
    """Hand the portal one delivery the stand-in signed for the agency's endpoint."""
    return webhook_post(client, agency, delivery["payload"], delivery["signature"])


def deliver_last(client, agency, event_type: str):
    return deliver(client, agency, agency.stripe.last_delivery(event_type))


def checkout_start(client, agency, user, package=None):
    """The client presses Buy on the portal; returns (response, purchase)."""
    package = package or agency.packages.order_by("credits").first()
    client.force_login(user)
    response = client.post(f"/billing/buy/{package.pk}/", HTTP_HOST=host(agency))
    assert response.status_code == 303, response.content
    return response, Purchase.objects.get(stripe_session_id=response["Location"].rsplit("/", 1)[1])


def success_page(client, agency, purchase):
    return client.get("/billing/buy/success/", {"session_id": purchase.stripe_session_id}, HTTP_HOST=host(agency))


def bought_and_paid(client, agency, user, **pay):
    """Buy the first package and pay on the stand-in's checkout page; nothing delivered yet."""
    _, purchase = checkout_start(client, agency, user)
    agency.stripe.pay(purchase.stripe_session_id, **pay)
    return purchase


def in_threads(count, work):
    """Run work(i) in `count` threads released together; each closes its own connection."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results
