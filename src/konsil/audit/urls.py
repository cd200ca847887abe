"""Audit pages: the patient's access log and the auditor's trail."""

from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("my-access/", views.my_access, name="my_access"),
    path("trail/", views.trail, name="trail"),
]
