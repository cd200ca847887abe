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


def test_a_signed_in_user_s_switch_is_kept_for_their_e_mails(client, patient_user, draft_case,
                                                               django_capture_on_commit_callbacks):
    from django.core import mail

    from konsil.cases.notify import notify_users

    client.force_login(patient_user)
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    patient_user.refresh_from_db()
    assert patient_user.preferred_language == "es"
    with django_capture_on_commit_callbacks(execute=True):
        notify_users(draft_case, "request_info", [patient_user])
    assert "información" in mail.outbox[-1].body  # the e-mail speaks the language she reads the site in
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    patient_user.refresh_from_db()
    assert patient_user.preferred_language == "es"  # an unknown code changes nothing
