"""The migration that moves low-balance thresholds from ops' AlertSettings onto the accounts keeps every one."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("ops", "0001_initial"), ("agencies", "0003_package_archived_at")]
AFTER = [("ops", "0003_threshold_field_removed")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_thresholds_and_webhooks_survive_the_move():
    old = _migrate(BEFORE)
    Agency, Organization = old.get_model("agencies", "Agency"), old.get_model("agencies", "Organization")
    AlertSettings = old.get_model("ops", "AlertSettings")
    agency = Agency.objects.create(company_name="Acme")
    alerted, silent, webhook_only = (Organization.objects.create(agency=agency, name=n) for n in "ABC")
    AlertSettings.objects.create(agency=agency, threshold=5_000)
    AlertSettings.objects.create(
        organization=alerted, threshold=50, webhook_url="https://hooks.example.com/a", signing_secret="whsec_a"
    )
    AlertSettings.objects.create(organization=webhook_only, threshold=None)

    new = _migrate(AFTER)
    Agency, Organization = new.get_model("agencies", "Agency"), new.get_model("agencies", "Organization")
    assert Agency.objects.get(pk=agency.pk).low_balance_threshold == 5_000
    assert dict(Organization.objects.values_list("pk", "low_balance_threshold")) == {
        alerted.pk: 50,
        silent.pk: None,
        webhook_only.pk: None,
    }
    assert (
        new.get_model("ops", "AlertSettings").objects.get(organization_id=alerted.pk).webhook_url
        == "https://hooks.example.com/a"
    )

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # leave the schema as the other tests expect
