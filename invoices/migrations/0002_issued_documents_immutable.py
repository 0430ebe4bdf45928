"""Issued invoices and credit notes cannot be updated, whatever the code path (admin, shell, .update()).

Deletes are left to on_delete=PROTECT and the models' delete() guard: a row
trigger on DELETE would also stop the test runner's table flushes.
"""

from django.db import migrations

TABLES = ["invoices_invoice", "invoices_creditnote"]


def _sql(vendor: str, table: str) -> tuple[list[str], list[str]]:
    """(statements that add the trigger, statements that remove it) for this database."""
    name = f"{table}_immutable"
    message = f"issued documents in {table} are immutable: issue a credit note"
    if vendor == "postgresql":
        return (
            [f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ "
             f"BEGIN RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql",
             f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"],
            [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"],
        )
    if vendor == "sqlite":
        return (
            [f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"],
            [f"DROP TRIGGER IF EXISTS {name}"],
        )
    return [], []


def forwards(apps, schema_editor):
    for table in TABLES:
        for statement in _sql(schema_editor.connection.vendor, table)[0]:
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    for table in TABLES:
        for statement in _sql(schema_editor.connection.vendor, table)[1]:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("invoices", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
