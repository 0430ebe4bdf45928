"""Platform invoices link their minute purchase: drop the rule that only a client's purchase has an invoice.

On SQLite, removing a CHECK rebuilds the table, which drops the immutability
trigger of 0002; it is put back (on PostgreSQL it is dropped and made again, a no-op).
"""

from importlib import import_module

from django.db import migrations

_trigger = import_module("invoices.migrations.0002_issued_documents_immutable")


def trigger_renew(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in _trigger.TABLES:
        add, remove = _trigger._sql(vendor, table)
        for statement in remove + add:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0003_platform_minute_purchases'),
        ('invoices', '0002_issued_documents_immutable'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='invoice',
            name='invoice_purchase_has_client_buyer',
        ),
        migrations.RunPython(trigger_renew, migrations.RunPython.noop),
    ]
