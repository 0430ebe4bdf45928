"""/view-as/ on a portal host: the console's "View as client" lands here (agencies.view_as_views)."""

from django.urls import path

from . import view_as_views as views

app_name = "view_as"

urlpatterns = [
    path("end/", views.view_as_end, name="end"),
    path("<str:token>/", views.view_as_redeem, name="redeem"),
]
