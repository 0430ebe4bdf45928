"""Customers and their tax ids, as the portal syncs billing details to them.

Like Stripe: unknown parameters are refused, a customer's tax ids are set on
create (tax_id_data) or one by one through /v1/customers/<id>/tax_ids, and a
Checkout Session takes either `customer` or `customer_email`, never both.
"""

from . import payment_methods as methods
from .resources import _metadata, _new, listing
from .state import Account, StripeError, new_id, now

CUSTOMER_PARAMS = {
    "name",
    "email",
    "address",
    "metadata",
    "phone",
    "description",
    "tax_id_data",
    "preferred_locales",
    "invoice_settings",
    "payment_method",
    "expand",
}
INVOICE_SETTINGS_PARAMS = {"default_payment_method", "custom_fields", "footer", "rendering_options"}
ADDRESS_FIELDS = {"line1", "line2", "postal_code", "city", "state", "country"}
# The tax id types the stand-in knows, with the country each one belongs to.
TAX_ID_TYPES = {"eu_vat": None, "gb_vat": "GB", "ch_vat": "CH", "no_vat": "NO"}


def _address(value) -> dict | None:
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid object", param="address")
    unknown = set(value) - ADDRESS_FIELDS
    if unknown:
        raise StripeError(400, f"Received unknown parameter: address[{sorted(unknown)[0]}]", param="address")
    return {field: value.get(field) or None for field in sorted(ADDRESS_FIELDS)}


def _check_params(params: dict) -> None:
    unknown = set(params) - CUSTOMER_PARAMS
    if unknown:
        raise StripeError(400, f"Received unknown parameter: {sorted(unknown)[0]}", param=sorted(unknown)[0])


def _tax_id(account: Account, customer: dict, data: dict, param: str) -> dict:
    kind, value = data.get("type"), str(data.get("value") or "")
    if kind not in TAX_ID_TYPES:
        raise StripeError(400, f"Invalid value for type: {kind}", param=f"{param}[type]")
    if not value:
        raise StripeError(400, "Missing required param: value.", code="parameter_missing", param=f"{param}[value]")
    country = TAX_ID_TYPES[kind] or ("GR" if value[:2] == "EL" else value[:2])
    return _new(
        account,
        "txi_",
        "tax_id",
        type=kind,
        value=value,
        country=country,
        customer=customer["id"],
        verification={"status": "pending", "verified_name": None, "verified_address": None},
    )


def customer_create(account: Account, params: dict, pending: list | None = None) -> dict:
    """POST /v1/customers; `pending` receives the deliveries of events it sends (payment_method.attached)."""
    _check_params(params)
    customer = {
        "id": new_id("cus_", 14),
        "object": "customer",
        "livemode": account.livemode,
        "created": now(),
        "name": params.get("name"),
        "email": params.get("email"),
        "phone": params.get("phone"),
        "description": params.get("description"),
        "address": _address(params.get("address")),
        "metadata": _metadata(params),
        "invoice_settings": methods.invoice_settings_new(),
    }
    data = params.get("tax_id_data") or []
    if not isinstance(data, list):
        raise StripeError(400, "Invalid array", param="tax_id_data")
    tax_ids = [_tax_id(account, customer, item, f"tax_id_data[{i}]") for i, item in enumerate(data)]
    method = methods.resolve(account, params["payment_method"]) if params.get("payment_method") else None
    account.objects[customer["id"]] = customer
    if method is not None:  # as Stripe: attached on creation (it may then be the default)
        events = methods.attach(account, method, customer)
        if pending is not None:
            pending += events
    _invoice_settings_update(account, customer, params)
    return {**customer, "tax_ids": listing(f"/v1/customers/{customer['id']}/tax_ids", tax_ids)}


def customer_update(account: Account, customer: dict, params: dict) -> dict:
    _check_params(params)
    for name in ("tax_id_data", "payment_method"):
        if name in params:
            raise StripeError(400, f"Received unknown parameter: {name}", param=name)
    for field in ("name", "email", "phone", "description"):
        if field in params:
            customer[field] = params[field] or None
    if "address" in params:
        customer["address"] = _address(params["address"])
    if "metadata" in params:
        customer["metadata"] = {**customer["metadata"], **_metadata(params)}
    _invoice_settings_update(account, customer, params)
    return customer


def _invoice_settings_update(account: Account, customer: dict, params: dict) -> None:
    """invoice_settings[default_payment_method] (a method attached to this customer, or "" to clear)."""
    settings = params.get("invoice_settings")
    if settings in (None, ""):
        return
    if not isinstance(settings, dict):
        raise StripeError(400, "Invalid object", param="invoice_settings")
    unknown = set(settings) - INVOICE_SETTINGS_PARAMS
    if unknown:
        name = sorted(unknown)[0]
        raise StripeError(
            400, f"Received unknown parameter: invoice_settings[{name}]", param=f"invoice_settings[{name}]"
        )
    if "default_payment_method" in settings:
        methods.default_set(account, customer, settings["default_payment_method"])


def tax_ids_of(account: Account, customer: dict) -> list[dict]:
    return [t for t in account.of_type("tax_id") if t["customer"] == customer["id"]]


def tax_id_create(account: Account, customer: dict, params: dict) -> dict:
    return _tax_id(account, customer, params, "tax_id")


def tax_id_delete(account: Account, customer: dict, tax_id_id: str) -> dict:
    tax_id = account.get("tax_id", "tax_id", tax_id_id)
    if tax_id["customer"] != customer["id"]:
        raise StripeError(404, f"No such tax id: '{tax_id_id}'", code="resource_missing", param="id")
    tax_id["deleted"] = True
    return {"id": tax_id_id, "object": "tax_id", "deleted": True}
