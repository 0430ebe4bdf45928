"""Decode Stripe's form encoding: ``line_items[0][price_data][currency]=eur``."""

import re
from urllib.parse import parse_qsl

_PART = re.compile(r"\[([^\]]*)\]")


def _set(container, parts, value):
    head, rest = parts[0], parts[1:]
    if not rest:
        container[head] = value
        return
    child = container.get(head)
    if child is None:
        child = {}
        container[head] = child
    _set(child, rest, value)


def _listify(node):
    """Turn dicts whose keys are all 0..n-1 into lists, depth first."""
    if not isinstance(node, dict):
        return node
    node = {key: _listify(value) for key, value in node.items()}
    if node and all(key.isdigit() for key in node):
        return [node[key] for key in sorted(node, key=int)]
    return node


def decode_form(body: str) -> dict:
    params: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        first = key.split("[", 1)[0]
        parts = [first] + _PART.findall(key[len(first) :])
        _set(params, parts, value)
    return _listify(params)
