"""Two sign-ups with the same email on one portal at the same instant: one account, and the
other person sees the form's usual message, not an error page. Needs PostgreSQL's row locks."""

import threading

import pytest
from django.db import connection, transaction
from django.test import Client

from agencies.models import Organization, User
from tests.agencies.test_accounts import signup
from tests.conftest import host

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_signup_that_loses_the_race_for_an_email_gets_the_form_error(make_agency):
    agency = make_agency(active=True)
    inserted, done = threading.Event(), threading.Event()

    def first_signup_commits_late():
        # The winner's account row is written but not yet committed when the loser's form
        # checks the email, so the check passes and the loser's insert waits on the unique index.
        try:
            with transaction.atomic():
                User.objects.create_user("jane@example.com", "a-long-password-1", agency=agency)
                inserted.set()
                done.wait(1.0)
        finally:
            connection.close()

    winner = threading.Thread(target=first_signup_commits_late)
    winner.start()
    assert inserted.wait(10)
    response = signup(Client(), host(agency), email="jane@example.com", company="Jane's Dental")
    done.set()
    winner.join()

    assert response.status_code == 200  # the form again, with its message
    assert "An account with this email already exists here" in response.text
    assert User.objects.filter(email="jane@example.com", agency=agency).count() == 1
    assert not Organization.objects.filter(name="Jane's Dental").exists()
