"""Billing pages on an agency's portal host."""

app_name = "billing"

urlpatterns: list = []
