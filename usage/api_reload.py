"""/api/v1/billing/auto-reload. Owner: the auto-reload work (stub until then)."""

from .api import ApiError, Caller, api_endpoint


@api_endpoint("GET", "PUT")
def auto_reload(request, caller: Caller):
    raise ApiError(501, "not_implemented", "Not built yet.")
