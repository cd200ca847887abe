from django.http import HttpResponse
from django.urls import path

app_name = "cases"


def _todo(request, *args, **kwargs):  # replaced by the real views
    return HttpResponse("")


urlpatterns = [
    path("", _todo, name="mine"),
    path("new/", _todo, name="new"),
    path("queue/", _todo, name="queue"),
    path("program/", _todo, name="program"),
    path("notifications/", _todo, name="notifications"),
]
