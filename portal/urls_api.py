"""/api/v1/ (namespace api_v1), on the console and on every portal: usage's endpoints, those of higher
layers, then the JSON 404 for anything else. Lives here because usage may not import ops."""

from django.urls import path

from ops import api_alerts
from usage import urls_api as usage_api

app_name = usage_api.app_name

urlpatterns = [
    *usage_api.urlpatterns,
    path("billing/alerts", api_alerts.billing_alerts, name="alerts"),
    *usage_api.not_found_patterns,
]
