"""Consult pages and the embedded room's signalling."""

from django.urls import path

from . import views

app_name = "consults"
urlpatterns = [
    path("cases/<uuid:pk>/book/", views.book, name="book"),
    path("<uuid:pk>/", views.detail, name="detail"),
    path("<uuid:pk>/room/", views.room, name="room"),
    path("<uuid:pk>/room/signals/", views.signals, name="signals"),
    path("<uuid:pk>/<slug:action>/", views.act, name="act"),
]
