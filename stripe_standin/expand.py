"""Stripe's `expand[]`: an id in an answer replaced by the object it names.

`expand[]=latest_charge`, `expand[]=setup_intent.payment_method`,
`expand[]=invoice_settings.default_payment_method`, `expand[]=data.customer`
(in a list)... Each dotted step goes into an object (or every item of a list);
the last step, if it holds an id of an object of the account, becomes that
object. The answer is a copy: stored objects keep their ids.
"""

import copy

from .state import Account, StripeError

MAX_DEPTH = 4  # as Stripe: "You cannot expand more than 4 levels of a property."


def _paths(params: dict) -> list[str]:
    wanted = params.get("expand")
    if wanted in (None, ""):
        return []
    paths = wanted if isinstance(wanted, list) else [wanted]
    for path in paths:
        if len(str(path).split(".")) > MAX_DEPTH:
            raise StripeError(400, "You cannot expand more than 4 levels of a property.", param="expand")
    return [str(p) for p in paths]


def _expand(account: Account, node, parts: list[str]):
    if isinstance(node, list):
        return [_expand(account, item, parts) for item in node]
    if not isinstance(node, dict) or parts[0] not in node:
        return node
    value = node[parts[0]]
    if len(parts) > 1:
        if isinstance(value, str) and value in account.objects:  # expand the middle step too, as Stripe does
            value = _public(account.objects[value])
        node[parts[0]] = _expand(account, value, parts[1:])
    elif isinstance(value, str) and value in account.objects:
        node[parts[0]] = _public(account.objects[value])
    return node


def _public(obj: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


def answer_expand(account: Account | None, params: dict, payload):
    """The answer with the ids that `expand` names replaced by their objects."""
    paths = _paths(params)
    if not paths or account is None or not isinstance(payload, dict) or "error" in payload:
        return payload
    expanded = copy.deepcopy(payload)
    for path in paths:
        expanded = _expand(account, expanded, path.split("."))
    return expanded
