"""Patient sign-up with e-mail verification, password reset, the welcome page (#9); never telling whether an
address has an account; throttled."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from konsil.accounts.models import Membership, User
from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent

from ..api.conftest import _fresh_throttles  # noqa: F401 - throttle counters start empty
from .links_support import LANDING, link_fragment, mailed_link

SIGNUP = "/accounts/signup/"
PASSWORD = "a long and unusual passphrase"
FORM = {"email": "new.patient@example.test", "password1": PASSWORD, "password2": PASSWORD, "language": "es",
        "agree": "on"}


def test_the_login_page_links_to_sign_up_and_reset(client, db):
    body = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/signup/"' in body and 'href="/accounts/password/reset/"' in body


def test_sign_up_verify_sign_in_and_start_a_case(client, network, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SIGNUP, FORM)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:signup_sent")
    user = User.objects.get(email=FORM["email"])
    assert not user.is_active and user.preferred_language == "es"
    assert Membership.objects.filter(user=user, organization=network, role=Role.PATIENT, active=True).exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [FORM["email"]]
    fragment = link_fragment(mail.outbox[0])
    # Not verified yet: no sign-in.
    assert not client.login(email=FORM["email"], password=PASSWORD)
    assert client.get(LANDING).status_code == 200  # what the link opens: the page whose script posts the secret
    response = client.post(LANDING, {"link": fragment})
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    user.refresh_from_db()
    assert user.is_active
    assert client.post(LANDING, {"link": fragment}).status_code == 400  # the link works once
    response = client.post(response["Location"], {"email": FORM["email"], "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:welcome")
    welcome = client.get(reverse("accounts:welcome")).content.decode()
    assert reverse("cases:new") in welcome
    new_case = client.get(reverse("cases:new"))
    assert new_case.status_code == 200  # a patient of the network may start a case
    assert new_case.context["form"]["language"].value() == "es"  # the language chosen at sign-up
    assert {"account.signup", "account.verify"} <= set(AuditEvent.objects.values_list("action", flat=True))


def test_the_language_offered_is_the_one_the_page_is_read_in(client, network):
    """Signing up on the Spanish page preselects Spanish; a first case of an account that never chose (the
    default "en") is in the language of the page, not English."""
    assert client.get(SIGNUP).context["form"]["language"].value() == "en"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    assert client.get(SIGNUP).context["form"]["language"].value() == "es"
    user = User.objects.create_user(email="first@example.test", username="first@example.test", password=PASSWORD)
    Membership.objects.create(user=user, organization=network, role=Role.PATIENT)
    client.force_login(user)
    assert client.get(reverse("cases:new")).context["form"]["language"].value() == "es"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    assert client.get(reverse("cases:new")).context["form"]["language"].value() == "ja"


def test_a_known_address_gets_the_same_answer_and_a_note_not_an_account(client, patient_user,
                                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SIGNUP, {**FORM, "email": patient_user.email.upper()})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:signup_sent")
    assert User.objects.filter(email__iexact=patient_user.email).count() == 1
    # the note is written in the account owner's language; it points at sign-in and password reset
    assert len(mail.outbox) == 1 and [to.lower() for to in mail.outbox[0].to] == [patient_user.email.lower()]
    assert reverse("accounts:password_reset") in mail.outbox[0].body


@pytest.mark.parametrize("change, field", [
    ({"email": "not-an-email"}, "email"), ({"password2": "something else entirely"}, "password2"),
    ({"password1": "short", "password2": "short"}, "password1"),
    ({"password1": "password123", "password2": "password123"}, "password1"), ({"agree": ""}, "agree"),
    ({"language": "xx"}, "language"),
])
def test_bad_input_shows_errors_and_saves_nothing(client, network, change, field):
    users, events = User.objects.count(), AuditEvent.objects.count()
    response = client.post(SIGNUP, {**FORM, **change})
    assert response.status_code == 400
    assert response.context["form"].errors.get(field)
    assert (User.objects.count(), AuditEvent.objects.count(), len(mail.outbox)) == (users, events, 0)


def test_tampered_or_unknown_verification_links_are_refused(client, network, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SIGNUP, FORM)
    fragment = link_fragment(mail.outbox[0])
    for bad in (fragment[:-3] + "xyz", "verify.bm90LWEtdXVpZA.abc-def", "verify.%00%FF.x", "verify.", "nonsense",
                "", "verify." + "x" * 5000, mailed_link(mail.outbox[0]).replace("verify.", "reset.")):
        response = client.post(LANDING, {"link": bad})
        assert response.status_code == 400, bad
    assert not User.objects.get(email=FORM["email"]).is_active
    # the whole pasted link works too (no JavaScript)
    assert client.post(LANDING, {"link": mailed_link(mail.outbox[0])}).status_code == 302


def test_sign_up_is_throttled_per_address(client, network):
    for i in range(5):
        client.post(SIGNUP, {**FORM, "email": f"p{i}@example.test"})
    response = client.post(SIGNUP, {**FORM, "email": "p9@example.test"})
    assert response.status_code == 429
    assert not User.objects.filter(email="p9@example.test").exists()


def test_sign_up_without_a_network_says_so(client, db):
    response = client.post(SIGNUP, FORM)
    assert response.status_code == 400 and not User.objects.exists()


# --- password reset -------------------------------------------------------------------------------------------

def test_password_reset_flow(client, patient_user):
    response = client.post("/accounts/password/reset/", {"email": patient_user.email})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    fragment = link_fragment(mail.outbox[0])
    response = client.post(LANDING, {"link": fragment})  # the secret goes into the session, never the address
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/new/"
    form = client.get(response["Location"])
    assert form.status_code == 200 and 'name="new_password1"' in form.content.decode()
    bad = client.post(response["Location"], {"new_password1": "short", "new_password2": "short"})
    assert bad.status_code == 400 and bad.context["form"].errors
    done = client.post(response["Location"], {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("accounts:password_reset_complete")
    patient_user.refresh_from_db()
    assert patient_user.check_password(PASSWORD)
    assert AuditEvent.objects.filter(action="account.password_reset", actor_id=patient_user.pk).exists()
    used = client.post(LANDING, {"link": fragment})
    assert used.status_code == 400 and 'id="link-invalid"' in used.content.decode()  # used once
    assert client.get("/accounts/password/reset/new/").status_code == 400


def test_password_reset_of_an_unknown_address_answers_the_same_and_sends_nothing(client, db):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_password_reset_is_throttled(client, patient_user):
    for _i in range(7):
        client.post("/accounts/password/reset/", {"email": patient_user.email})
    assert len(mail.outbox) == 5


def test_signing_up_from_a_program_page_comes_back_to_it(client, network, django_capture_on_commit_callbacks):
    """An employee who checked their benefit signs up from the program page; after the e-mailed link and the
    sign-in they are back on that page (where the sponsored case starts), not on the plain welcome page."""
    back = "/programs/p/acme-benefit/"
    page = client.get(f"{SIGNUP}?next={back}").content.decode()
    assert f'name="next" value="{back}"' in page and f'/accounts/login/?next={back}"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SIGNUP, {**FORM, "next": back})
    assert response.status_code == 302
    link = mailed_link(mail.outbox[0])
    assert "?next=%2Fprograms%2Fp%2Facme-benefit%2F#verify." in link  # where to go after; the secret stays after #
    response = client.post(f"{LANDING}?next={back}", {"link": link_fragment(mail.outbox[0])})
    assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={back.replace('/', '%2F')}"
    response = client.post(response["Location"], {"email": FORM["email"], "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == back
    # another site's address is never followed
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/logout/")
        client.post(SIGNUP, {**FORM, "email": "other.patient@example.test", "next": "https://evil.example/"})
    assert "next=" not in mailed_link(mail.outbox[-1])


def test_an_account_without_a_password_sets_one_through_the_reset_link(client, db):
    """A specialist imported into the directory has no password until they set one here."""
    imported = User.objects.create_user("imported.specialist@example.test", None)
    asleep = User.objects.create_user("asleep@example.test", None, is_active=False)
    assert not imported.has_usable_password()
    client.post("/accounts/password/reset/", {"email": "Imported.Specialist@example.test"})
    client.post("/accounts/password/reset/", {"email": asleep.email})
    assert [m.to for m in mail.outbox] == [[imported.email]]  # an inactive account still gets nothing
    response = client.post(LANDING, {"link": link_fragment(mail.outbox[0])})
    done = client.post(response["Location"], {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done["Location"] == reverse("accounts:password_reset_complete")
    imported.refresh_from_db()
    assert imported.check_password(PASSWORD)


def test_the_check_your_email_page_keeps_where_the_reader_was_going(client, network):
    response = client.post(f"{SIGNUP}?next=/programs/p/acme/", FORM)
    assert response.status_code == 302 and response["Location"].endswith("?next=%2Fprograms%2Fp%2Facme%2F")
    page = client.get(response["Location"]).content.decode()
    assert 'href="/accounts/login/?next=/programs/p/acme/"' in page
    evil = client.get(reverse("accounts:signup_sent") + "?next=https://evil.example/").content.decode()
    assert 'href="/accounts/login/">' in evil  # only a target on this site is kept
