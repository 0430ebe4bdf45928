"""The console's Stripe page and activation (mounted at console/ on the console host, beside agencies')."""

from django.urls import path

from . import setup_views as views

app_name = "stripe_setup"

urlpatterns = [
    path("stripe/", views.stripe_settings, name="stripe"),
    path("stripe/check/", views.stripe_check_now, name="check"),
    path("stripe/repair/", views.stripe_repair, name="repair"),
    path("activation/", views.activation, name="activation"),
]
