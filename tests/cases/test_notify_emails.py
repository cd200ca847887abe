"""Case e-mails: a subject per kind that says what happened (the case reference only, never PHI) and a link to the
page where the reader acts, the same page the in-app notification opens."""

from __future__ import annotations

import pytest
from django.core import mail

from konsil.cases.models import Notification
from konsil.cases.notify import GENERIC_SUBJECT, SUBJECTS, TEXTS, _send, notify_users, path_for, subject_for
from konsil.cases.services import transition

SECRETS = ("Ana", "García", "I25", "stent", "Coronary", "ardiology", "Do I need")
SITE = "https://konsil.example.test"


@pytest.fixture
def site(settings):
    settings.KONSIL_SITE_URL = SITE + "/"  # a trailing slash never doubles in the link
    return SITE


def test_the_second_opinion_mail_says_so_and_links_to_the_case(
        site, walker, draft_case, patient_user, coordinator, django_capture_on_commit_callbacks):
    case = walker.walk_to(draft_case, "signed")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        transition(actor=coordinator, case=case, action="deliver")
    [message] = mail.outbox
    assert message.to == [patient_user.email]
    assert message.subject == f"Konsil: the second opinion on {case.reference} is ready"
    assert f"{SITE}/cases/{case.pk}/" in message.body
    for secret in SECRETS:
        assert secret not in message.subject and secret not in message.body


def test_a_request_for_information_has_its_own_subject(site, walker, draft_case, patient_user,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = walker.walk_to(draft_case, "info_requested")
    asked = [m for m in mail.outbox if m.to == [patient_user.email]
             and m.subject == f"Konsil: more information needed on {case.reference}"]
    assert asked and f"{SITE}/cases/{case.pk}/" in asked[0].body


def test_every_kind_has_a_subject_with_the_reference_and_nothing_else_of_the_case():
    for kind in [*TEXTS, "never_heard_of"]:
        subject = subject_for(kind, "K-ABC123")
        assert subject.startswith("Konsil: ") and "K-ABC123" in subject and "%(" not in subject
    assert set(SUBJECTS) <= set(TEXTS)
    assert subject_for("network_transfer", "K-ABC123") == str(GENERIC_SUBJECT) % {"ref": "K-ABC123"}
    assert subject_for("deliver", "K-1") != subject_for("request_info", "K-1") != subject_for("submit", "K-1")


@pytest.mark.django_db
def test_each_kind_links_where_the_reader_acts_in_the_mail_and_in_the_app(
        site, draft_case, patient_user, client, django_capture_on_commit_callbacks):
    pk = draft_case.pk
    expected = {"message": f"/cases/{pk}/", "triage_questions": f"/triage/cases/{pk}/questions/",
                "panel_invite": f"/cases/{pk}/panel/"}
    for kind, path in expected.items():
        assert path_for(kind, pk) == path
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            notify_users(draft_case, kind, [patient_user])
        assert f"{SITE}{path}\n" in mail.outbox[0].body + "\n"
    client.force_login(patient_user)
    page = client.get("/cases/notifications/").content.decode()
    for item in Notification.objects.filter(user=patient_user):  # in the app: through "open", which marks it read
        opened = f"/cases/notifications/{item.pk}/"
        assert f'href="{opened}"' in page
        assert client.get(opened)["Location"] == expected[item.kind]
    assert Notification.objects.filter(user=patient_user).count() == len(expected)


def test_a_notice_about_no_case_links_to_the_site(settings, site):
    assert path_for("license_expiring", None) is None
    _send("", "license_expiring", [("someone@example.test", "en")])
    assert mail.outbox[-1].body.endswith(SITE + "/")
