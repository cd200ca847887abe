"""The language switcher."""

import pytest


@pytest.mark.django_db
def test_language_switcher_changes_the_page_language(client):
    assert '<html lang="en"' in client.get("/accounts/login/").content.decode()
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/accounts/login/"})
    assert response.status_code == 302 and response.url == "/accounts/login/"
    assert '<html lang="es"' in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_switcher_lists_languages_and_marks_the_current_one(client):
    client.post("/i18n/setlang/", {"language": "ja", "next": "/accounts/login/"})
    html = client.get("/accounts/login/").content.decode()
    assert 'name="language" data-autosubmit' in html
    assert '<option value="ja" lang="ja" selected>' in html and 'value="es"' in html


@pytest.mark.django_db
def test_unknown_language_is_ignored(client):
    client.post("/i18n/setlang/", {"language": "xx", "next": "/accounts/login/"})
    assert '<html lang="en"' in client.get("/accounts/login/").content.decode()
