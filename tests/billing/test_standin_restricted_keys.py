"""The stand-in's restricted keys and the set-up routes answer the real `stripe` package as Stripe does."""

import pytest
import stripe


def _restricted(account, *permissions) -> stripe.StripeClient:
    created = account.call("/_standin/restricted_keys", {f"permissions[{i}]": p for i, p in enumerate(permissions)})
    assert created["secret_key"].startswith("rk_test_")
    return stripe.StripeClient(created["secret_key"], base_addresses={"api": account.base_url})


def test_a_restricted_key_acts_on_its_account_within_its_permissions(stripe_account):
    account = stripe_account()
    client = _restricted(account, "products:write", "prices:read")
    product = client.v1.products.create({"name": "Credits"})
    assert account.client.v1.products.retrieve(product.id).id == product.id  # the same account
    assert client.v1.prices.list().data == []  # read
    assert client.v1.accounts.retrieve_current().id == account.call("/v1/account", method="GET")["id"]
    with pytest.raises(stripe.PermissionError) as refused:
        client.v1.prices.create({"product": product.id, "currency": "eur", "unit_amount": 100})
    assert refused.value.http_status == 403
    assert "does not have the required permissions for this endpoint" in str(refused.value)
    assert "'prices:write'" in str(refused.value)
    with pytest.raises(stripe.PermissionError):
        client.v1.webhook_endpoints.list()


def test_an_unknown_permission_is_refused(stripe_account):
    with pytest.raises(RuntimeError, match="Unknown permission: prices:admin"):
        _restricted(stripe_account(), "prices:admin")


def test_prices_are_listed_by_product_and_archived_by_update(stripe_account):
    client = stripe_account().client
    one, two = client.v1.products.create({"name": "One"}), client.v1.products.create({"name": "Two"})
    kept = client.v1.prices.create({"product": one.id, "currency": "eur", "unit_amount": 100, "metadata": {"k": "v"}})
    client.v1.prices.create({"product": two.id, "currency": "eur", "unit_amount": 200})
    assert [p.id for p in client.v1.prices.list({"product": one.id}).data] == [kept.id]
    archived = client.v1.prices.update(kept.id, {"active": False})
    assert archived.active is False and archived.metadata.to_dict() == {"k": "v"}
    assert client.v1.prices.list({"product": one.id, "active": True}).data == []


def test_a_webhook_endpoint_is_updated_and_disabled(stripe_account):
    client = stripe_account().client
    endpoint = client.v1.webhook_endpoints.create({"url": "https://a.example/hook", "enabled_events": ["*"]})
    updated = client.v1.webhook_endpoints.update(
        endpoint.id, {"url": "https://b.example/hook", "enabled_events": ["charge.refunded"], "disabled": True}
    )
    assert (updated.url, updated.enabled_events, updated.status) == (
        "https://b.example/hook",
        ["charge.refunded"],
        "disabled",
    )
    assert "secret" not in updated  # shown once, on creation
