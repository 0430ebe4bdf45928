"""API and webhook URLs on the console host."""

from django.urls import path

from . import api_views

app_name = "api"

urlpatterns = [
    # Before the agencies' route: "platform" and "connect" are reserved slugs no agency can take.
    path("webhooks/stripe/platform", api_views.platform_stripe_webhook, name="platform_stripe_webhook"),
    path("webhooks/stripe/connect", api_views.connect_stripe_webhook, name="connect_stripe_webhook"),
    path("webhooks/stripe/<slug:slug>", api_views.stripe_webhook, name="stripe_webhook"),
]
