from django.http import HttpResponse
from django.urls import path

app_name = "opinions"


def _todo(request, *args, **kwargs):  # replaced by the real views
    return HttpResponse("")


urlpatterns = [
    path("specialist/", _todo, name="workspace"),
]
