"""Matching pages (include under "matching/")."""

from django.urls import path

from . import views

app_name = "matching"
urlpatterns = [
    path("import/", views.import_specialists, name="import"),
    path("batch/", views.batch, name="batch"),
    path("batch/run/", views.run_batch, name="run_batch"),
    path("batch/proposals/<uuid:pk>/offer/", views.offer, name="offer"),
    path("cases/<uuid:pk>/ways-out/<slug:way>/", views.way_out, name="way_out"),
    path("routing/", views.routing_settings, name="routing"),
]
