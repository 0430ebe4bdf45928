"""Fewer indexes per ledger entry: every reported call writes two entries.

The accounts' single-column indexes go (ledger_org_recent and ledger_agency_recent lead with the
same columns); actor and purchase are indexed only where set (usage entries have neither). The new
indexes are built first, concurrently on PostgreSQL, so that a populated ledger keeps taking writes.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False  # AddIndexConcurrently

    dependencies = [
        ("agencies", "0008_payments_topups"),
        ("billing", "0014_usage_entries_unindexed"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="ledgerentry",
            index=models.Index(condition=models.Q(("actor__isnull", False)), fields=["actor"], name="ledger_actor"),
        ),
        AddIndexConcurrently(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("purchase__isnull", False)), fields=["purchase"], name="ledger_purchase"
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="agency",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="agencies.agency",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="organization",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="agencies.organization",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="purchase",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="billing.purchase",
            ),
        ),
    ]
