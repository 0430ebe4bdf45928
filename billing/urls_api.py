"""API and webhook URLs on the console host."""

from django.urls import path

from . import api_views

app_name = "api"

urlpatterns = [
    path("webhooks/stripe/<slug:slug>", api_views.stripe_webhook, name="stripe_webhook"),
]
