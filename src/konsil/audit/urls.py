from django.http import HttpResponse
from django.urls import path

app_name = "audit"


def _todo(request, *args, **kwargs):  # replaced by the real views
    return HttpResponse("")


urlpatterns = [
    path("my-access/", _todo, name="my_access"),
    path("trail/", _todo, name="trail"),
]
