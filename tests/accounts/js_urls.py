"""Test-only URLs: the real site plus a page exercising konsil.js (autosave, confirm)."""

from django.http import HttpResponse, JsonResponse
from django.template import Context, RequestContext, Template
from django.urls import include, path

PAGE = Template("""{% extends "base.html" %}{% block content %}
<form method="post" action="/js-test/submitted/" data-autosave="/js-test/save/" data-saving-text="Guardando…"
      data-saved-text="Guardado" data-error-text="No guardado">{% csrf_token %}
  <div class="field"><label for="id_title">Title</label><input id="id_title" name="title"></div>
  <div class="field"><label for="id_code">Code</label><input id="id_code" name="code"></div>
  <p data-autosave-status aria-live="polite"></p>
  <button type="submit" name="go" data-confirm="Really send?">Send</button>
</form>{% endblock %}""")

SAVED: list[dict] = []


def page(request):
    return HttpResponse(PAGE.render(RequestContext(request, {})))


def save(request):
    SAVED.append({"title": request.POST.get("title", ""), "code": request.POST.get("code", ""),
                  "csrf_header": bool(request.headers.get("X-CSRFToken"))})
    if request.POST.get("code") == "bad":
        body = {"code": "validation", "detail": "Invalid", "errors": {"code": ["Unknown code."]}}
        return JsonResponse(body, status=400)
    return JsonResponse({"saved": True})


def submitted(request):
    return HttpResponse(Template("sent").render(Context()))


urlpatterns = [
    path("js-test/", page),
    path("js-test/save/", save),
    path("js-test/submitted/", submitted),
    path("", include("konsil.urls")),
]
