"""Reads for agencies and their clients."""

from django.db.models import QuerySet

from .models import Agency, User


def client_users(*, agency: Agency, email_query: str = "") -> QuerySet[User]:
    """The agency's portal users with their organization, newest first, in one query."""
    users = (
        User.objects.filter(agency=agency, organization__isnull=False)
        .select_related("organization")
        .order_by("-date_joined", "-pk")
    )
    if email_query:
        users = users.filter(email__icontains=email_query)
    return users
