"""/api/v1/billing/payment-methods and /api/v1/billing/topup. Owner: the payments work (stubs until then)."""

from .api import ApiError, Caller, api_endpoint


def _todo():
    raise ApiError(501, "not_implemented", "Not built yet.")


@api_endpoint("GET", "POST")
def payment_methods(request, caller: Caller):
    _todo()


@api_endpoint("DELETE")
def payment_method(request, caller: Caller, method_id: str):
    _todo()


@api_endpoint("POST")
def payment_method_default(request, caller: Caller, method_id: str):
    _todo()


@api_endpoint("POST")
def topup(request, caller: Caller):
    _todo()
