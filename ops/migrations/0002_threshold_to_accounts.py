"""Low-balance thresholds move from ops' AlertSettings to the accounts' own rows.

The ledger (billing) reads the threshold under the row lock it takes on the
account, without importing ops. Every threshold set so far is copied over;
going back copies them back.
"""

from django.db import migrations


def thresholds_to_accounts(apps, schema_editor):
    AlertSettings = apps.get_model("ops", "AlertSettings")
    Organization = apps.get_model("agencies", "Organization")
    Agency = apps.get_model("agencies", "Agency")
    rows = AlertSettings.objects.filter(threshold__isnull=False).values_list(
        "organization_id", "agency_id", "threshold")
    for organization_id, agency_id, threshold in rows.iterator():
        if organization_id is not None:
            Organization.objects.filter(pk=organization_id).update(low_balance_threshold=threshold)
        else:
            Agency.objects.filter(pk=agency_id).update(low_balance_threshold=threshold)


def thresholds_to_settings(apps, schema_editor):
    AlertSettings = apps.get_model("ops", "AlertSettings")
    Organization = apps.get_model("agencies", "Organization")
    Agency = apps.get_model("agencies", "Agency")
    for model, owner in ((Organization, "organization_id"), (Agency, "agency_id")):
        for pk, threshold in model.objects.filter(low_balance_threshold__isnull=False).values_list(
                "pk", "low_balance_threshold").iterator():
            AlertSettings.objects.update_or_create(**{owner: pk}, defaults={"threshold": threshold})


class Migration(migrations.Migration):

    dependencies = [
        ("ops", "0001_initial"),
        ("agencies", "0004_low_balance_threshold"),
    ]

    operations = [
        migrations.RunPython(thresholds_to_accounts, thresholds_to_settings),
    ]
