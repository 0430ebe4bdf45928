"""The audit log: an append-only table of who changed what, guarded in the database.

PostgreSQL refuses UPDATE and DELETE on it with a row trigger (TRUNCATE, which the test runner's
flush uses, fires no row trigger). SQLite, the development database, refuses UPDATE only: its
test-runner flush deletes rows one by one.
"""

import django.utils.timezone
from django.db import migrations, models

TABLE = "agencies_auditentry"
MESSAGE = "the audit log is append-only"


def _guard(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{MESSAGE}'; END; $$ LANGUAGE plpgsql"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def _unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only")


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0009_teams_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("agency_id", models.BigIntegerField(blank=True, null=True)),
                ("organization_id", models.BigIntegerField(blank=True, null=True)),
                (
                    "actor_id",
                    models.BigIntegerField(blank=True, help_text="Empty: the system (a task, a webhook).", null=True),
                ),
                ("actor_email", models.CharField(blank=True, max_length=254)),
                ("actor_kind", models.CharField(max_length=10)),
                (
                    "action",
                    models.CharField(help_text='What happened, e.g. "client.allocate", "member.role".', max_length=60),
                ),
                ("object_type", models.CharField(blank=True, max_length=60)),
                ("object_id", models.CharField(blank=True, max_length=64)),
                ("object_repr", models.CharField(blank=True, max_length=200)),
                ("changes", models.JSONField(blank=True, default=dict)),
                ("ip", models.GenericIPAddressField(blank=True, null=True)),
            ],
            options={
                "verbose_name_plural": "audit entries",
                "ordering": ["-created_at", "-pk"],
                "indexes": [
                    models.Index(fields=["agency_id", "-created_at"], name="audit_agency_recent"),
                    models.Index(fields=["organization_id", "-created_at"], name="audit_organization_recent"),
                    models.Index(fields=["-created_at"], name="audit_recent"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("actor_kind__in", ["agency", "client", "operator", "system"])),
                        name="audit_actor_kind_known",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("organization_id__isnull", True), ("agency_id__isnull", False), _connector="OR"
                        ),
                        name="audit_organization_has_agency",
                    ),
                ],
            },
        ),
        migrations.RunPython(_guard, _unguard),
    ]
