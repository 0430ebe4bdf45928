"""A small local stand-in for the parts of Stripe the portal uses.

Real Stripe REST shapes over HTTP, so the official ``stripe`` package talks to
it unchanged (set ``STRIPE_API_BASE`` to its URL): products, prices, Checkout
Sessions with a hosted payment page (and `setup` mode, saving a card: setup.py),
customers and their tax ids, PaymentMethods from Stripe's test tokens
(pm_card_visa, pm_card_chargeDeclined..., pm_card_authenticationRequired, pm_sepa_debit:
payment_methods.py), SetupIntents, PaymentIntents charged on or off session with
Stripe's test outcomes and a hosted 3-D Secure page (payments.py, authenticate.py),
charges, refunds, disputes, `expand[]`, events and webhook endpoints whose signed
deliveries use Stripe's ``Stripe-Signature`` scheme. State is in memory, one account per secret key;
an unknown key gets 401. Accounts are made with ``POST /_standin/accounts``; a restricted
key of an account with ``POST /_standin/restricted_keys`` (``permissions[]=prices:write``...,
see keys.py), and a key without the permission a route needs gets Stripe's 403. Events are listed
with Stripe's filters and pagination, and deliveries can be lost on purpose (see ``events.py``).

Run it with ``python -m stripe_standin --port 12111``; tests call ``start()``.
"""

from .server import StandInServer, start

__all__ = ["StandInServer", "start"]
