"""Whose auto-reload it is: a client's credits (sold by its agency) or an agency's platform minutes."""

from agencies.models import Agency, Organization

from .models import AutoReload


def account_of(setting: AutoReload) -> tuple[Agency, Organization | None]:
    """(the agency that sells or buys, the client organization or None for the agency's own minutes)."""
    if setting.organization is not None:
        return setting.organization.agency, setting.organization
    assert setting.agency is not None  # one account or the other (a constraint)
    return setting.agency, None
