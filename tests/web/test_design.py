"""The design system's pieces: the field partial (labels, hints, errors tied to the widget), brand settings."""

from __future__ import annotations

from django import forms
from django.template import Context, Template


class Sample(forms.Form):
    name = forms.CharField(label="Name", help_text="As on your ID card")
    note = forms.CharField(label="Note", required=False)
    code = forms.CharField(label="Code (optional)", required=False)


def render(form, name):
    return Template('{% include "partials/field.html" with field=f %}').render(Context({"f": form[name]}))


def test_field_ties_hint_and_error_to_the_widget():
    form = Sample(data={"name": ""})
    assert not form.is_valid()
    html = render(form, "name")
    assert '<label for="id_name">Name' in html
    assert 'id="id_name_helptext"' in html and 'id="id_name_error"' in html
    assert 'aria-describedby="id_name_helptext id_name_error"' in html and 'aria-invalid="true"' in html
    assert html.index("id_name_error") < html.index("<input")  # the error is read before the field
    assert 'class="required"' in html


def test_optional_fields_say_so_once():
    form = Sample()
    assert "(optional)" in render(form, "note")
    assert render(form, "code").count("optional") == 1


def test_brand_name_and_logo_are_configurable(client, settings, db):
    settings.KONSIL_BRAND_NAME = "Acme Second Opinions"
    settings.KONSIL_BRAND_LOGO = "https://cdn.example.test/acme.svg"
    body = client.get("/accounts/login/").content.decode()
    assert "Acme Second Opinions" in body and "<title>Sign in · Acme Second Opinions</title>" in body
    assert 'src="https://cdn.example.test/acme.svg"' in body
    settings.KONSIL_BRAND_LOGO = ""
    assert "brand-logo" not in client.get("/accounts/login/").content.decode()


def test_favicon_and_icons_are_served_from_the_app(client, db):
    body = client.get("/accounts/login/").content.decode()
    assert 'rel="icon" href="/static/konsil/favicon.svg"' in body
    from pathlib import Path

    import konsil
    icons = Path(konsil.__file__).parent / "static" / "konsil" / "icons"
    assert (icons / "LICENSE").is_file() and len(list(icons.glob("*.svg"))) >= 20


def test_demo_people_listed_only_in_demo_mode(client, settings, network):
    from konsil.accounts.roles import Role
    from konsil.demo import LOGINS, PASSWORD

    from ..factories import make_user

    settings.KONSIL_DEMO = "auto"
    assert "data-demo-email" not in client.get("/accounts/login/").content.decode()
    make_user(Role.PATIENT, network, email=LOGINS[0].email, first_name="Rosa", last_name="Ejemplo")
    body = client.get("/accounts/login/").content.decode()
    assert f'data-demo-email="{LOGINS[0].email}"' in body and "Rosa Ejemplo" in body and PASSWORD in body
    assert "<script>" not in body and "onclick" not in body  # no inline script (strict CSP)
    settings.KONSIL_DEMO = "off"
    assert "data-demo-email" not in client.get("/accounts/login/").content.decode()


def test_error_summary_links_each_error_to_its_field():
    form = Sample(data={"name": ""})
    form.is_valid()
    form.add_error(None, "Something is off.")
    html = Template('{% include "partials/form_errors.html" %}').render(Context({"form": form}))
    assert 'role="alert"' in html and "There is a problem" in html and "data-error-summary" in html
    assert '<a href="#id_name">Name: This field is required.</a>' in html and "Something is off." in html
    assert Template('{% include "partials/form_errors.html" %}').render(Context({"form": Sample()})).strip() == ""


def test_specialty_names_follow_the_reader_language(db, monkeypatch):
    from django.utils import translation

    from konsil.core.templatetags.konsil_ui import vocab
    from konsil.matching.models import Specialty

    cardiology = Specialty.objects.get(code="cardiology")
    catalogue = {"Cardiology": "Cardiología"}
    monkeypatch.setattr("django.utils.translation.gettext", lambda text: catalogue.get(text, text))
    with translation.override("es"):
        assert str(cardiology) == "Cardiología" and vocab(cardiology.name) == "Cardiología"
    assert vocab("") == ""


def test_no_template_comment_spans_lines():
    """Django's {# #} comment ends at the line's end: one that spans lines is printed into the page."""
    from pathlib import Path

    import konsil

    root = Path(konsil.__file__).parent
    broken = [f"{path.relative_to(root)}:{n}" for path in root.rglob("templates/**/*.html")
              for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
              if "{#" in line and "#}" not in line[line.index("{#"):]]
    assert not broken, broken



def test_ago_is_the_time_element_the_pages_spelled_out(settings):
    """`{% ago %}` renders what the queue's rows spelled out in three parts (ISO date for machines, date and time
    as the title, how long ago in words), in each language and time zone; a dash when there is no moment."""
    import datetime as dt

    from django.utils import timezone, translation

    settings.TIME_ZONE = "America/Chicago"
    when = timezone.now() - dt.timedelta(days=3, hours=2)
    spelled = Template("{% load i18n %}<time datetime=\"{{ when|date:'c' }}\" "
                       "title=\"{{ when|date:'DATETIME_FORMAT' }}\">"
                       "{% blocktranslate with age=when|timesince %}{{ age }} ago{% endblocktranslate %}</time>")
    tag = Template("{% load konsil_ui %}{% ago when %}")
    for language in ("en", "es", "ja"):
        with translation.override(language):
            assert tag.render(Context({"when": when})) == spelled.render(Context({"when": when})), language
    with translation.override("es"):
        assert "hace" in tag.render(Context({"when": when}))
    assert '-0' in tag.render(Context({"when": when})).split('"')[1]  # Chicago's offset, not UTC
    assert tag.render(Context({"when": None})) == "—"


def test_ago_says_just_now_under_a_minute():
    """A case submitted seconds ago is "just now" in each language, not "0 minutes ago"; a minute on, minutes."""
    import datetime as dt

    from django.utils import timezone, translation

    tag = Template("{% load konsil_ui %}{% ago when %}")
    seconds_ago = Context({"when": timezone.now() - dt.timedelta(seconds=20)})
    for language, words in (("en", ">just now<"), ("es", ">hace un momento<"), ("ja", ">たった今<")):
        with translation.override(language):
            assert words in tag.render(seconds_ago), language
    assert ">1\xa0minute ago<" in tag.render(Context({"when": timezone.now() - dt.timedelta(seconds=70)}))
