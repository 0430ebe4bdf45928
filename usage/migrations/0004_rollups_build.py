"""Build the daily rollups from the usage records already stored (works on a populated database).

One INSERT ... SELECT ... GROUP BY per rollup table (the agencies' days from the organizations' days), in the migration's transaction. An
ingest by the previous release while this runs is not rolled up: run
`manage.py usage_check` after the deploy, and `manage.py usage_rollup_rebuild` for
any day it names.
"""

from django.db import migrations


def build(apps, schema_editor):
    from usage.rollups import rollups_rebuild_rows

    models = tuple(apps.get_model("usage", name) for name in ("UsageRecord", "UsageDay", "UsageDayNumber", "UsageAgencyDay"))
    rollups_rebuild_rows(models=models)


def empty(apps, schema_editor):
    for name in ("UsageDay", "UsageDayNumber", "UsageAgencyDay"):
        apps.get_model("usage", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("usage", "0003_rollups_usage_days")]

    operations = [migrations.RunPython(build, empty)]
