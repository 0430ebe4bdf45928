"""The hosted 3-D Secure page a PaymentIntent's (or SetupIntent's) next_action.redirect_to_url points at.

GET shows the payment and two buttons, as Stripe's test authentication page
does: "Complete authentication" (the payment succeeds) and "Fail
authentication" (it goes back to requires_payment_method). Either way the
browser is sent to the return_url with ?payment_intent=pi_...,
payment_intent_client_secret and redirect_status (setup_intent=seti_... for a
SetupIntent), after the webhooks went out.
"""

from html import escape
from urllib.parse import parse_qsl, urlencode

from . import pages, payments, setup
from .state import StripeError

PREFIX = "/standin/authenticate/"
ENDS = {"payment_intent": payments.authentication_end, "setup_intent": setup.authentication_end}


def _amount(intent: dict) -> str:
    if intent["object"] == "setup_intent":
        return "Saving a card for later payments"
    whole, cents = divmod(intent["amount"], 100)
    return f"{whole:,}.{cents:02d} {intent['currency'].upper()}"


def _page(intent: dict) -> str:
    action = f"{PREFIX}{escape(intent['id'])}"
    if intent["status"] != "requires_action":
        return pages.page(
            "Authentication finished",
            "<h1>Authentication finished</h1>"
            f"<p data-testid='state'>This is {escape(intent['status'].replace('_', ' '))}.</p>",
        )
    return pages.page(
        "Authenticate your payment",
        "<h1>Authenticate your payment</h1>"
        f"<p class='amount' data-testid='amount'>{_amount(intent)}</p>"
        "<p>Your bank asks you to confirm this payment (3-D Secure test page).</p>"
        f"<form method='post' action='{action}'><input type='hidden' name='outcome' value='complete'>"
        "<button type='submit' data-testid='authenticate-complete'>Complete authentication</button></form>"
        f"<form method='post' action='{action}'><input type='hidden' name='outcome' value='fail'>"
        "<button type='submit' class='secondary' data-testid='authenticate-fail'>Fail authentication</button></form>",
    )


def _return_to(intent: dict, return_url: str) -> str:
    name = intent["object"]  # payment_intent or setup_intent, as Stripe names the query parameters
    query = {
        name: intent["id"],
        f"{name}_client_secret": intent["client_secret"],
        "redirect_status": "succeeded" if intent["status"] == "succeeded" else "failed",
    }
    return return_url + ("&" if "?" in return_url else "?") + urlencode(query)


def hosted(handler, method: str, path: str) -> None:
    from .server import deliver  # server imports this module

    store = handler.server.store
    intent_id = path[len(PREFIX) :]
    account = store.page_accounts.get(intent_id)
    intent = account.objects.get(intent_id) if account else None
    if intent is None or intent.get("object") not in ENDS:
        return handler._send(404, pages.not_found().encode(), "text/html; charset=utf-8")
    with store.lock:
        if method == "GET":
            return handler._send(200, _page(intent).encode(), "text/html; charset=utf-8")
        form = dict(parse_qsl(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()))
        return_url = ((intent.get("next_action") or {}).get("redirect_to_url") or {}).get("return_url") or ""
        try:
            end = ENDS[intent["object"]]
            pending = end(account, intent, completed=form.get("outcome") == "complete")
        except StripeError as exc:
            return handler._send(
                exc.status, pages.error(exc.body["error"]["message"]).encode(), "text/html; charset=utf-8"
            )
    deliver(pending)  # like Stripe, tell the merchant's server before sending the customer back
    if not return_url:  # confirmed without a return_url (Stripe.js would close its modal): say how it ended
        return handler._send(200, _page(intent).encode(), "text/html; charset=utf-8")
    handler._send(303, b"", "text/plain", {"Location": _return_to(intent, return_url)})
