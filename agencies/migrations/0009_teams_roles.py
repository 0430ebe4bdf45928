"""Teams: every account gets a role (agencies.roles says what each may do)."""

from django.db import migrations, models


def _members_not_owners(apps, schema_editor):
    """A portal account that is not its organization's owner becomes a member (before teams there was one)."""
    User = apps.get_model("agencies", "User")
    Organization = apps.get_model("agencies", "Organization")
    owners = Organization.objects.filter(owner_id=models.OuterRef("pk"), pk=models.OuterRef("organization_id"))
    User.objects.filter(organization__isnull=False).exclude(models.Exists(owners)).update(role="member")


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0008_payments_topups"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="role",
            field=models.CharField(
                choices=[
                    ("owner", "Owner"),
                    ("admin", "Admin"),
                    ("billing", "Billing"),
                    ("viewer", "Viewer"),
                    ("member", "Member"),
                ],
                default="owner",
                max_length=10,
            ),
        ),
        migrations.RunPython(_members_not_owners, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("managed_agency__isnull", True),
                    ("role__in", ["owner", "admin", "billing", "viewer"]),
                    _connector="OR",
                ),
                name="user_agency_role_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("organization__isnull", True), ("role__in", ["owner", "billing", "member"]), _connector="OR"
                ),
                name="user_organization_role_known",
            ),
        ),
    ]
