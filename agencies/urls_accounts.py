"""/accounts/ on every host: allauth's views, with the portal's own sign-up view in front."""

from django.urls import include, path

from . import account_views

urlpatterns = [
    path("signup/", account_views.signup, name="account_signup"),
    path("", include("allauth.urls")),
]
