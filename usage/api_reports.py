"""/api/v1/billing/usage, usage/detailed, transactions, invoices, alerts. Owner: the reports work (stubs until then)."""

from .api import ApiError, Caller, api_endpoint


def _todo():
    raise ApiError(501, "not_implemented", "Not built yet.")


@api_endpoint("GET")
def billing_usage(request, caller: Caller):
    _todo()


@api_endpoint("GET")
def billing_usage_detailed(request, caller: Caller):
    _todo()


@api_endpoint("GET")
def transactions(request, caller: Caller):
    _todo()


@api_endpoint("GET")
def invoices(request, caller: Caller):
    _todo()


@api_endpoint("GET")
def invoice_pdf(request, caller: Caller, document_id: str):
    _todo()


@api_endpoint("GET", "PUT")
def alerts(request, caller: Caller):
    _todo()
