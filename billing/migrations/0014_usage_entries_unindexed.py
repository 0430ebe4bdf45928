"""Usage ledger entries leave the reference indexes; an agency's usage entry names its client.

Order matters on a populated database: the new column is filled while the old
reference index still finds each agency entry's client entry, then that index
and the two unique constraints give way to ones that leave usage entries out
(their uniqueness is the usage record's, see LedgerEntry.Meta).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery


def usage_clients_fill(apps, schema_editor):
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    client_entry = LedgerEntry.objects.filter(
        kind="usage",
        organization__isnull=False,
        reference=OuterRef("reference"),
        organization__agency_id=OuterRef("agency_id"),
    ).values("organization_id")[:1]
    LedgerEntry.objects.filter(kind="usage", agency__isnull=False).update(usage_client_id=Subquery(client_entry))


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0008_payments_topups"),
        ("billing", "0013_reload_auto_reload"),
    ]

    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="usage_client",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="agencies.organization",
            ),
        ),
        migrations.RunPython(usage_clients_fill, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="ledgerentry", name="ledger_usage_client_reference"),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.UniqueConstraint(
                condition=Q(organization__isnull=False) & ~Q(kind="usage"),
                fields=("organization", "reference"),
                name="ledger_reference_unique_per_org_not_usage",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.UniqueConstraint(
                condition=Q(agency__isnull=False) & ~Q(kind="usage"),
                fields=("agency", "reference"),
                name="ledger_reference_unique_per_agency_not_usage",
            ),
        ),
        migrations.RemoveConstraint(model_name="ledgerentry", name="ledger_reference_unique_per_organization"),
        migrations.RemoveConstraint(model_name="ledgerentry", name="ledger_reference_unique_per_agency"),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=Q(usage_client__isnull=True) | Q(kind="usage", agency__isnull=False),
                name="ledger_usage_client_on_agency_usage",
            ),
        ),
    ]
