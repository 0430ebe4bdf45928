"""Webhook endpoints on the stand-in, and the updates products, prices and endpoints accept."""

from .resources import _metadata, _new, _required, public
from .state import Account, StripeError, new_id


def webhook_endpoint_create(account: Account, params: dict, *, secret: str | None = None) -> dict:
    """`secret` (stand-in only) gives the endpoint a signing secret chosen beforehand."""
    url = _required(params, "url")
    events = params.get("enabled_events")
    if not isinstance(events, list) or not events:
        raise StripeError(
            400, "Missing required param: enabled_events.", code="parameter_missing", param="enabled_events"
        )
    secret = secret or new_id("whsec_", 32)
    endpoint = _new(
        account,
        "we_",
        "webhook_endpoint",
        url=url,
        enabled_events=events,
        status="enabled",
        api_version=params.get("api_version"),
        description=params.get("description"),
        metadata=_metadata(params),
        _secret=secret,
        _connect=str(params.get("connect", "")).lower() == "true",  # events of connected accounts
    )
    return {**public(endpoint), "secret": secret}  # the secret is shown once, on creation


def webhook_endpoint_update(endpoint: dict, params: dict) -> dict:
    """POST /v1/webhook_endpoints/{id}: url, enabled_events, disabled, description, metadata."""
    if params.get("url"):
        endpoint["url"] = params["url"]
    if "enabled_events" in params:
        events = params["enabled_events"]
        if not isinstance(events, list) or not events:
            raise StripeError(400, "Invalid array", param="enabled_events")
        endpoint["enabled_events"] = events
    if params.get("disabled") in ("true", "false"):
        endpoint["status"] = "disabled" if params["disabled"] == "true" else "enabled"
    if "description" in params:
        endpoint["description"] = params["description"]
    if "metadata" in params:
        endpoint["metadata"] = {**endpoint["metadata"], **_metadata(params)}
    return endpoint


def object_update(obj: dict, params: dict, allowed: tuple[str, ...]) -> dict:
    """POST /v1/products/{id}, /v1/prices/{id}: the fields Stripe lets one change."""
    for name, value in params.items():
        if name not in allowed:
            raise StripeError(400, f"Received unknown parameter: {name}", param=name)
        if name == "active":
            obj["active"] = value != "false"
        elif name == "metadata":
            obj["metadata"] = {**obj.get("metadata", {}), **_metadata(params)}
        else:
            obj[name] = value
    return public(obj)


def webhook_endpoint_delete(account: Account, endpoint_id: str) -> dict:
    endpoint = account.get("webhook_endpoint", "webhook_endpoint", endpoint_id)
    endpoint["deleted"] = True
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}
