"""References the portal puts on Stripe objects and reads back to match them to its own rows."""


def client_reference(*, agency_id: int, organization_id: int | None) -> str:
    """The client_reference_id of a Checkout Session: the buying client, or the agency buying platform minutes."""
    if organization_id is None:
        return f"agency_{agency_id}"
    return f"org_{organization_id}"
