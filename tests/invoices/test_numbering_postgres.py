"""Invoice numbers stay gapless and unique when purchases are fulfilled concurrently (PostgreSQL)."""

import threading

import pytest
from django.db import connection, transaction
from django.test import Client

from invoices import services
from invoices.models import DocumentCounter, Invoice
from tests.billing.flows import bought_and_paid, checkout_start, deliver, success_page
from tests.conftest import NOON, instant
from tests.invoices.conftest import seller_set

# Numbers carry the year of issue: every invoice here is issued at NOON (in every thread: the clock is global).
pytestmark = pytest.mark.now(NOON)
YEAR = instant(NOON).year


def _in_threads(count: int, work):
    """Run work(i) in `count` threads released together; each thread closes its own connection."""
    results, errors = [None] * count, []
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_purchases_get_consecutive_numbers_and_one_invoice_each(stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, prefix="ACME")
    bought = []
    for _ in range(8):
        buyer = Client()
        purchase = bought_and_paid(buyer, agency, make_client_user(agency))
        bought.append((buyer, purchase, agency.stripe.last_delivery("checkout.session.completed")))

    # Every purchase's webhook races its own success page and every other purchase's fulfilment.
    def fulfil(i):
        buyer, purchase, delivery = bought[i // 2]
        return deliver(Client(), agency, delivery) if i % 2 == 0 else success_page(buyer, agency, purchase)

    responses, errors = _in_threads(16, fulfil)
    assert errors == [] and [r.status_code for r in responses] == [200] * 16
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [f"ACME-{YEAR}-{n:06d}" for n in range(1, 9)]
    assert sorted(Invoice.objects.values_list("purchase_id", flat=True)) == sorted(p.pk for _, p, _ in bought)
    assert DocumentCounter.objects.get(scope=f"agency:{agency.pk}", series="invoice").last_number == 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_that_roll_back_leave_no_gap(stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, prefix="ACME")
    user = make_client_user(agency)
    purchases = [checkout_start(Client(), agency, user)[1] for _ in range(10)]

    def issue(i):
        with transaction.atomic():
            invoice = services.invoice_issue_for_purchase(purchase=purchases[i])
            if i % 2:
                raise RuntimeError("the crediting failed: the number goes back")
        return invoice.number

    numbers, errors = _in_threads(10, issue)
    assert len(errors) == 5 and all(isinstance(e, RuntimeError) for e in errors)
    committed = sorted(Invoice.objects.values_list("number", flat=True))
    assert committed == sorted(n for n in numbers if n) == [f"ACME-{YEAR}-{n:06d}" for n in range(1, 6)]
