"""Invitations (#9): a patient invites a caregiver, a coordinator invites a referring clinician (NPI checked)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from konsil.accounts.models import Membership, User
from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases import relations as rel
from konsil.cases.models import CaregiverAuthorization, Invitation

from ..accounts.links_support import link_fragment, open_link
from ..api.conftest import _fresh_throttles  # noqa: F401 - throttle counters start empty
from ..factories import make_user, valid_npi

PASSWORD = "a long and unusual passphrase"


def invite(client, user, data, capture, login=None):
    (login(client, user) if login else client.force_login(user))
    with capture(execute=True):
        response = client.post(reverse("accounts:invitations"), data)
    client.logout()
    return response


def test_a_patient_invites_a_caregiver_who_then_sees_the_case(client, patient_user, draft_case,
                                                              django_capture_on_commit_callbacks):
    response = invite(client, patient_user, {"email": "carer@example.test", "relationship": "child"},
                      django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["carer@example.test"]
    link = open_link(client, mail.outbox[-1])
    page = client.get(link)
    assert page.status_code == 200 and 'name="password1"' in page.content.decode()
    assert 'name="npi"' not in page.content.decode()
    response = client.post(link, {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    carer = User.objects.get(email="carer@example.test")
    assert carer.is_active and Membership.objects.filter(user=carer, role=Role.CAREGIVER).exists()
    authorization = CaregiverAuthorization.objects.get(caregiver=carer)
    assert authorization.patient == draft_case.patient and authorization.relationship == "child"
    assert rel.CAREGIVER in rel.relations(carer, draft_case)
    assert client.get(link).status_code == 400  # used once
    assert {"invitation.create", "invitation.accept", "caregiver.authorize"} <= set(
        AuditEvent.objects.values_list("action", flat=True))


def test_a_patient_without_a_case_cannot_invite_yet(client, patient_user, django_capture_on_commit_callbacks):
    response = invite(client, patient_user, {"email": "carer@example.test", "relationship": "child"},
                      django_capture_on_commit_callbacks)
    assert response.status_code == 403 and not Invitation.objects.exists() and mail.outbox == []


def test_a_coordinator_invites_a_clinician_and_a_bad_npi_is_refused(client, network, coordinator, login,
                                                                    django_capture_on_commit_callbacks):
    response = invite(client, coordinator, {"email": "dr.ref@example.test"}, django_capture_on_commit_callbacks,
                      login=login)
    assert response.status_code == 302
    link = open_link(client, mail.outbox[-1])
    form = {"given_name": "Rita", "family_name": "Ref", "password1": PASSWORD, "password2": PASSWORD}
    bad = client.post(link, {**form, "npi": "1234567890"})
    assert bad.status_code == 400 and "npi" in bad.context["form"].errors
    assert not User.objects.filter(email="dr.ref@example.test").exists()
    short = client.post(link, {**form, "npi": "12345"})
    assert short.status_code == 400 and "npi" in short.context["form"].errors
    npi = valid_npi(4242)
    response = client.post(link, {**form, "npi": npi})
    assert response.status_code == 302
    clinician = User.objects.get(email="dr.ref@example.test")
    assert clinician.has_role(Role.REFERRING_CLINICIAN) and clinician.requires_mfa
    assert Invitation.objects.get().npi == npi and Invitation.objects.get().accepted_by == clinician


def test_only_coordinators_and_patients_invite(client, specialist):
    client.force_login(specialist.user)
    assert client.get(reverse("accounts:invitations")).status_code == 403


@pytest.mark.parametrize("token", ["nonsense", "x" * 400, "%00"])
def test_bad_links_are_refused(client, db, token):
    assert client.post("/accounts/link/", {"link": f"invite.{token}"}).status_code == 400
    assert client.get("/accounts/invitations/accept/").status_code == 400  # nothing brought: nothing opens


def test_expired_and_revoked_invitations_do_not_open(client, patient_user, draft_case,
                                                     django_capture_on_commit_callbacks):
    invite(client, patient_user, {"email": "carer@example.test", "relationship": "spouse"},
           django_capture_on_commit_callbacks)
    link = open_link(client, mail.outbox[-1])
    invitation = Invitation.objects.get()
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert client.get(link).status_code == 400
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() + dt.timedelta(days=1))
    client.force_login(patient_user)
    assert client.post(reverse("accounts:invitation_revoke", kwargs={"pk": invitation.pk})).status_code == 302
    client.logout()
    assert client.post("/accounts/link/", {"link": link_fragment(mail.outbox[-1])}).status_code == 400


def test_the_wrong_signed_in_account_cannot_take_an_invitation(client, network, patient_user, draft_case,
                                                               django_capture_on_commit_callbacks):
    invite(client, patient_user, {"email": "carer@example.test", "relationship": "spouse"},
           django_capture_on_commit_callbacks)
    link = open_link(client, mail.outbox[-1])
    stranger = make_user(Role.PATIENT, network)
    client.force_login(stranger)
    response = client.post(link, {})
    assert response.status_code == 403
    assert not CaregiverAuthorization.objects.exists()


def test_an_existing_account_signs_in_first(client, network, patient_user, draft_case,
                                            django_capture_on_commit_callbacks):
    carer = make_user(Role.PATIENT, network, email="carer@example.test")
    invite(client, patient_user, {"email": carer.email, "relationship": "spouse"},
           django_capture_on_commit_callbacks)
    link = open_link(client, mail.outbox[-1])
    refused = client.post(link, {"password1": PASSWORD, "password2": PASSWORD})
    assert refused.status_code == 409 and "sign in" in refused.content.decode()
    client.force_login(carer)
    assert client.post(link, {}).status_code == 302
    assert rel.CAREGIVER in rel.relations(carer, draft_case)


def test_bad_invitation_input_is_a_form_error(client, patient_user, draft_case, django_capture_on_commit_callbacks):
    response = invite(client, patient_user, {"email": "nope", "relationship": "child"},
                      django_capture_on_commit_callbacks)
    assert response.status_code == 400 and not Invitation.objects.exists()
    response = invite(client, patient_user, {"email": patient_user.email, "relationship": "child"},
                      django_capture_on_commit_callbacks)
    assert response.status_code == 400 and not Invitation.objects.exists()


def test_invitation_pages_are_linked_for_patients_and_coordinators(client, patient_user, coordinator, login):
    client.force_login(patient_user)
    assert reverse("accounts:invitations") in client.get(reverse("cases:mine")).content.decode()
    client.logout()
    login(client, coordinator)
    assert reverse("accounts:invitations") in client.get(reverse("cases:queue")).content.decode()
