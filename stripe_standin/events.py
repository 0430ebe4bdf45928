"""Events as Stripe lists them, deliveries that go missing, and sessions that run out.

- `GET /v1/events`: newest first, with Stripe's filters `type` (one type, or a
  prefix ending in `*`), `types[]` (up to 20 exact types), `created` (an exact
  unix time or `created[gt|gte|lt|lte]`) and `delivery_success` (`true`: every
  delivery to an enabled endpoint was answered 2xx; `false`: at least one was
  not, or is yet to be), and Stripe's cursor pagination: `limit` (1-100,
  default 10), `starting_after` / `ending_before` an event id, `has_more`.
- `POST /_standin/webhook_endpoints/{id}/drop` with `count=N` (default 1): the
  next N deliveries to that endpoint are lost on purpose, as when the portal is
  down longer than Stripe retries. Each is recorded (`/_standin/deliveries`
  shows it with `dropped: true` and an error, its payload and signature kept so
  a test can redeliver it later) but never sent. `count=0` cancels. The
  endpoint object shows the drops still to come as `standin_drop_next`.
- A Checkout Session still open at its `expires_at` expires (with its
  `checkout.session.expired` event) the next time anyone calls the stand-in
  for that account, as Stripe's own background job would.
"""

from .state import Account, StripeError, now

DROPPED = "dropped on purpose by the stand-in (/_standin/webhook_endpoints/{id}/drop)"
MAX_TYPES = 20


def delivery_drop(endpoint: dict, delivery: dict) -> bool:
    """Whether this delivery is one of the endpoint's drops still to come; if so it is marked failed."""
    if endpoint.get("_drop_next", 0) <= 0:
        return False
    endpoint["_drop_next"] -= 1
    endpoint["standin_drop_next"] = endpoint["_drop_next"]
    delivery.update(dropped=True, error=DROPPED)
    return True


def endpoint_drop(account: Account, endpoint_id: str, params: dict) -> dict:
    endpoint = account.get("webhook_endpoint", "webhook_endpoint", endpoint_id)
    raw = params.get("count", "1")
    if not str(raw).isdigit():
        raise StripeError(400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param="count")
    endpoint["_drop_next"] = endpoint["standin_drop_next"] = int(raw)
    return {k: v for k, v in endpoint.items() if not k.startswith("_")}


def _delivered(account: Account, event: dict) -> bool:
    """Every delivery of the event to a (still) enabled endpoint answered 2xx."""
    enabled = {e["id"] for e in account.of_type("webhook_endpoint") if e["status"] == "enabled"}
    for delivery in account.deliveries:
        if delivery["event"] == event["id"] and delivery["endpoint"] in enabled:
            status = delivery.get("status")
            if delivery.get("dropped") or status is None or not 200 <= status < 300:
                return False
    return True


def _int(value, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param) from None


_BOUNDS = {
    "gt": lambda value, bound: value > bound,
    "gte": lambda value, bound: value >= bound,
    "lt": lambda value, bound: value < bound,
    "lte": lambda value, bound: value <= bound,
}


def _created_match(created):
    """A test of an event's `created` from the `created` parameter: an exact time or bounds."""
    if created in (None, ""):
        return lambda value: True
    if not isinstance(created, dict):
        exact = _int(created, "created")
        return lambda value: value == exact
    bounds = []
    for name, raw in created.items():
        if name not in _BOUNDS:
            raise StripeError(400, f"Received unknown parameter: created[{name}]", param=f"created[{name}]")
        bounds.append((_BOUNDS[name], _int(raw, f"created[{name}]")))
    return lambda value: all(check(value, bound) for check, bound in bounds)


def _type_match(params: dict):
    if params.get("type") and params.get("types"):
        raise StripeError(400, "You may only specify one of these parameters: type, types.", param="types")
    if params.get("types"):
        types = params["types"]
        if not isinstance(types, list) or len(types) > MAX_TYPES:
            raise StripeError(400, f"`types` must be a list of at most {MAX_TYPES} event types.", param="types")
        wanted = set(types)
        return lambda event_type: event_type in wanted
    pattern = params.get("type") or ""
    if pattern.endswith("*"):
        return lambda event_type: event_type.startswith(pattern[:-1])
    return lambda event_type: not pattern or event_type == pattern


def _success_match(params: dict):
    raw = params.get("delivery_success")
    if raw in (None, ""):
        return lambda account, event: True
    if raw not in ("true", "false"):
        raise StripeError(400, "Invalid boolean: " + str(raw), param="delivery_success")
    return lambda account, event: _delivered(account, event) == (raw == "true")


def event_list(account: Account, params: dict) -> dict:
    """GET /v1/events, newest first, filtered and paginated as Stripe does."""
    limit = _int(params.get("limit", 10), "limit")
    if not 1 <= limit <= 100:
        raise StripeError(400, "This value must be between 1 and 100.", param="limit")
    type_ok, created_ok, success_ok = _type_match(params), _created_match(params.get("created")), _success_match(params)
    events = [
        e
        for e in reversed(account.events)
        if type_ok(e["type"]) and created_ok(e["created"]) and success_ok(account, e)
    ]
    ids = [e["id"] for e in events]
    after, before = params.get("starting_after"), params.get("ending_before")
    for cursor, param in ((after, "starting_after"), (before, "ending_before")):
        if cursor and cursor not in ids and cursor not in {e["id"] for e in account.events}:
            raise StripeError(404, f"No such event: '{cursor}'", code="resource_missing", param=param)
    if after:
        start = ids.index(after) + 1 if after in ids else len(ids)
        page, has_more = events[start : start + limit], len(events) > start + limit
    elif before:
        end = ids.index(before) if before in ids else 0
        page, has_more = events[max(0, end - limit) : end], end - limit > 0
    else:
        page, has_more = events[:limit], len(events) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": "/v1/events"}


def sessions_expire_due(account: Account | None) -> list[dict]:
    """Expire the account's open sessions past their expires_at; the deliveries of their events."""
    if account is None:
        return []
    from .resources import session_expire  # resources imports this module

    pending: list[dict] = []
    moment = now()
    for session in account.of_type("checkout.session"):
        if session["status"] == "open" and session["expires_at"] <= moment:
            pending += session_expire(account, session)
    return pending


def routes_add(api) -> None:
    """Register this module's routes on the stand-in's router."""

    @api.add("GET", "/v1/events")
    def _event_list(store, account, match, params, request):
        return event_list(account, params)

    @api.add("POST", r"/_standin/webhook_endpoints/([A-Za-z0-9_]+)/drop")
    def _endpoint_drop(store, account, match, params, request):
        return endpoint_drop(account, match.group(1), params)
