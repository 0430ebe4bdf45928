from django.contrib.admin.apps import AdminConfig


class AuditedAdminConfig(AdminConfig):
    """Django admin whose site logs every operator change in the audit log (agencies.admin_audit)."""

    default_site = "agencies.admin_audit.AuditedAdminSite"
