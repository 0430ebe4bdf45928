"""Fewer indexes per usage record: the accounts' single-column indexes repeat the composite ones.

reservation is indexed only where set (usage_record_reservation, built first and concurrently on PostgreSQL);
the rollups' foreign keys are covered by their unique and agency indexes.
"""

import django.db.models.deletion
from django.db import migrations, models

from core.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False  # AddIndexConcurrently

    dependencies = [
        ("agencies", "0008_payments_topups"),
        ("usage", "0004_rollups_build"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="usagerecord",
            index=models.Index(
                condition=models.Q(("reservation__isnull", False)), fields=["reservation"], name="usage_record_reservation"
            ),
        ),
        migrations.AlterField(
            model_name="usageagencyday",
            name="agency",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="agencies.agency"
            ),
        ),
        migrations.AlterField(
            model_name="usageday",
            name="agency",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="agencies.agency"
            ),
        ),
        migrations.AlterField(
            model_name="usageday",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="agencies.organization",
            ),
        ),
        migrations.AlterField(
            model_name="usagedaynumber",
            name="agency",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="agencies.agency"
            ),
        ),
        migrations.AlterField(
            model_name="usagedaynumber",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="agencies.organization",
            ),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="agency",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_records",
                to="agencies.agency",
            ),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_records",
                to="agencies.organization",
            ),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="reservation",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_records",
                to="usage.reservation",
            ),
        ),
    ]
