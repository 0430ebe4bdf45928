"""Client pages on an agency's portal host."""

from django.urls import path

from . import portal_views as views

app_name = "ops_portal"

urlpatterns = [
    path("usage/report/", views.usage_report, name="usage_report"),
    path("usage/report/chart-<str:size>.svg", views.usage_report_chart, name="usage_report_chart"),
    path("usage/report.csv", views.usage_report_csv, name="usage_report_csv"),
    path("settings/alerts/", views.alerts, name="alerts"),
    path("settings/alerts/secret/", views.alerts_secret, name="alerts_secret"),
    path("settings/alerts/test/", views.alerts_test, name="alerts_test"),
    path("settings/alerts/deliveries/<int:delivery_id>/retry/", views.alerts_retry, name="alerts_retry"),
]
