"""Follow-up and outcome pages."""

from django.urls import path

from . import views

app_name = "outcomes"
urlpatterns = [
    path("", views.open_link, name="open"),
    path("questions/", views.answer_by_link, name="answer"),
    path("<uuid:pk>/answer/", views.answer_on_case, name="answer_on_case"),
    path("queue/", views.queue, name="queue"),
    path("costs/", views.costs, name="costs"),
    path("my-opinions/", views.my_outcomes, name="mine"),
    path("cases/<uuid:pk>/alternative/", views.set_alternative, name="alternative"),
]
