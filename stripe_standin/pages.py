"""The stand-in's hosted checkout page: what a customer sees on checkout.stripe.com."""

from html import escape

_STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; background: #f6f9fc; color: #1a1f36; margin: 0; padding: 0 .75rem; }
main { max-width: 440px; margin: 3rem auto; background: #fff; border-radius: 10px; padding: 2rem;
       box-shadow: 0 2px 12px rgba(50, 50, 93, .12); }
.standin { font-size: .8rem; color: #5c6778; text-transform: uppercase; letter-spacing: .05em; }
.amount { font-size: 2rem; font-weight: 700; margin: .25rem 0 1rem; }
button { width: 100%; padding: .8rem; border: 0; border-radius: 6px; font: inherit; font-weight: 600;
         cursor: pointer; margin-top: .75rem; background: #635bff; color: #fff; }
button.secondary { background: #e3e8ee; color: #1a1f36; }
a { color: #635bff; }
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><main><p class='standin'>Stripe stand-in · test payments</p>"
        f"{body}</main></body></html>"
    )


def page(title: str, body: str) -> str:
    """A stand-in page (Connect's authorize and onboarding pages use it too)."""
    return _page(title, body)


def _amount(session: dict) -> str:
    whole, cents = divmod(session["amount_total"], 100)
    return f"{whole:,}.{cents:02d} {session['currency'].upper()}"


def checkout(session: dict) -> str:
    action = f"/c/pay/{escape(session['id'])}"
    head = (
        f"<h1>Checkout</h1><p class='amount' data-testid='amount'>{_amount(session)}</p>"
        f"<p>{escape(session.get('customer_email') or '')}</p>"
    )
    if session["status"] == "open":
        cancel = session.get("cancel_url")
        return _page(
            "Checkout",
            head
            + (
                f"<form method='post' action='{action}'><input type='hidden' name='method' value='card'>"
                "<p>Card 4242 4242 4242 4242 (test)</p><button type='submit'>Pay</button></form>"
                f"<form method='post' action='{action}'><input type='hidden' name='method' value='delayed'>"
                "<button type='submit' class='secondary'>Pay by bank debit (settles later)</button></form>"
                + (f"<p><a href='{escape(cancel)}'>Cancel and return</a></p>" if cancel else "")
            ),
        )
    if session.get("_settlement") == "processing":
        return _page(
            "Payment processing",
            head
            + (
                "<p data-testid='state'>Payment processing: the bank has not confirmed it yet.</p>"
                f"<form method='post' action='{action}/settle'><input type='hidden' name='outcome' value='succeeded'>"
                "<button type='submit'>Bank confirms the payment</button></form>"
                f"<form method='post' action='{action}/settle'><input type='hidden' name='outcome' value='failed'>"
                "<button type='submit' class='secondary'>Bank rejects the payment</button></form>"
            ),
        )
    back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
    state = {"succeeded": "Paid", "failed": "Payment failed"}.get(
        session.get("_settlement") or "", session["status"].capitalize()
    )
    return _page(
        state,
        head + f"<p data-testid='state'>{escape(state)}.</p><p><a href='{escape(back)}'>Return to the merchant</a></p>",
    )


def not_found() -> str:
    return _page("Not found", "<h1>This checkout page does not exist.</h1>")


def error(message: str) -> str:
    return _page("Payment not possible", f"<h1>Payment not possible</h1><p>{escape(message)}</p>")
