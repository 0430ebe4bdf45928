"""The stand-in lists events as Stripe does, loses deliveries when told to, and expires sessions on time."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe


@pytest.fixture
def receiver():
    """A webhook receiver answering 200 to every POST; `.received` lists the event ids it got."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            server.received.append(json.loads(body)["id"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield server
    server.shutdown()
    server.server_close()


def _sessions(account, count: int) -> list:
    product = account.client.v1.products.create({"name": "Credits"})
    item = {"price_data": {"currency": "eur", "unit_amount": 500, "product": product.id}, "quantity": 1}
    return [
        account.client.v1.checkout.sessions.create(
            {"mode": "payment", "success_url": "https://example.com/ok", "line_items": [item]}
        )
        for _ in range(count)
    ]


def _expire_all(account, sessions) -> None:
    for session in sessions:
        account.client.v1.checkout.sessions.expire(session.id)


def test_events_are_listed_newest_first_by_type_and_page(stripe_account):
    account = stripe_account()
    _expire_all(account, _sessions(account, 5))
    page = account.client.v1.events.list({"types": ["checkout.session.expired"], "limit": 2})
    assert len(page.data) == 2 and page.has_more
    everything = list(page.auto_paging_iter())
    assert len(everything) == 5 and len({e.id for e in everything}) == 5
    assert [e.created for e in everything] == sorted((e.created for e in everything), reverse=True)
    last = account.client.v1.events.list({"type": "checkout.session.*", "starting_after": everything[3].id})
    assert [e.id for e in last.data] == [everything[4].id] and not last.has_more
    assert account.client.v1.events.list({"types": ["charge.refunded"]}).data == []


def test_events_are_filtered_by_creation_time(stripe_account, clock):
    account = stripe_account()
    _expire_all(account, _sessions(account, 1))
    clock.shift(timedelta(days=4))
    _expire_all(account, _sessions(account, 1))
    recent = account.client.v1.events.list({"created": {"gte": int(time.time() - 3 * 86400)}}).data
    older = account.client.v1.events.list({"created": {"lt": int(time.time() - 3 * 86400)}}).data
    assert len(recent) == 1 and len(older) == 1 and recent[0].id != older[0].id


def test_bad_list_parameters_are_refused(stripe_account):
    account = stripe_account()
    for params in [{"limit": 101}, {"created": {"after": 1}}, {"starting_after": "evt_nope"}]:
        with pytest.raises(stripe.InvalidRequestError):
            account.client.v1.events.list(params)


def test_dropped_deliveries_are_recorded_not_sent_and_count_as_undelivered(stripe_account, receiver):
    account = stripe_account()
    endpoint = account.client.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["checkout.session.expired"]}
    )
    answer = account.call(f"/_standin/webhook_endpoints/{endpoint.id}/drop", {"count": "1"})
    assert answer["standin_drop_next"] == 1
    _expire_all(account, _sessions(account, 2))

    dropped, sent = account.deliveries("checkout.session.expired")
    assert dropped["dropped"] and "dropped on purpose" in dropped["error"] and dropped["status"] is None
    assert sent["status"] == 200 and receiver.received == [sent["event"]]
    failed = account.client.v1.events.list({"delivery_success": False}).data
    delivered = account.client.v1.events.list({"delivery_success": True}).data
    assert [e.id for e in failed] == [dropped["event"]] and [e.id for e in delivered] == [sent["event"]]


def test_a_session_open_at_its_expiry_expires_with_its_event(stripe_account, clock):
    account = stripe_account()
    (session,) = _sessions(account, 1)
    assert account.client.v1.checkout.sessions.retrieve(session.id).status == "open"
    clock.shift(timedelta(hours=24, seconds=1))
    assert account.client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    (event,) = account.client.v1.events.list({"type": "checkout.session.expired"}).data
    assert event.data.object.id == session.id


def test_a_refund_reason_stripe_does_not_know_is_refused(stripe_account):
    account = stripe_account()
    with pytest.raises(stripe.InvalidRequestError) as refused:
        account.client.v1.refunds.create({"payment_intent": "pi_x", "reason": "changed_mind"})
    assert refused.value.param == "reason"
