"""A small local stand-in for the parts of Stripe the portal uses.

Real Stripe REST shapes over HTTP, so the official ``stripe`` package talks to
it unchanged (set ``STRIPE_API_BASE`` to its URL): products, prices, Checkout
Sessions with a hosted payment page, customers and their tax ids, payment
intents, charges, refunds, disputes, events and webhook endpoints whose signed
deliveries use Stripe's ``Stripe-Signature`` scheme. State is in memory, one account per secret key;
an unknown key gets 401. Accounts are made with ``POST /_standin/accounts``; a restricted
key of an account with ``POST /_standin/restricted_keys`` (``permissions[]=prices:write``...,
see keys.py), and a key without the permission a route needs gets Stripe's 403. Events are listed
with Stripe's filters and pagination, and deliveries can be lost on purpose (see ``events.py``).

Run it with ``python -m stripe_standin --port 12111``; tests call ``start()``.
"""

from .server import StandInServer, start

__all__ = ["StandInServer", "start"]
