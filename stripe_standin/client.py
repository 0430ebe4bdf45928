"""Talk to the stand-in's own controls (not Stripe's API): used by load_demo and tests."""

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode


def call(base_url: str, path: str, params: dict | None = None, *, key: str | None = None, method: str = "POST") -> dict:
    data = urlencode(params or {}).encode() if method == "POST" else None
    url = base_url.rstrip("/") + path + ("" if method == "POST" or not params else "?" + urlencode(params))
    request = urllib.request.Request(url, data=data, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"stand-in answered {exc.code} to {method} {path}: {exc.read().decode()}") from None


def account_ensure(base_url: str, secret_key: str, *, wait_seconds: float = 10) -> dict:
    """Make sure the stand-in knows `secret_key`, waiting for it to start if need be."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return call(base_url, "/_standin/accounts", {"secret_key": secret_key})
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def webhook_endpoint_set(
    base_url: str, secret_key: str, *, url: str, signing_secret: str, events: list[str], connect: bool = False
) -> dict:
    """Register (or replace) the account's endpoint for `url`, signed with `signing_secret`.

    `connect`: the endpoint receives the events of the accounts connected to this (platform) account.
    """
    params = {"url": url, "secret": signing_secret, **({"connect": "true"} if connect else {})}
    params.update({f"enabled_events[{i}]": event for i, event in enumerate(events)})
    return call(base_url, "/_standin/webhook_endpoints", params, key=secret_key)
