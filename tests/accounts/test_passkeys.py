"""Passkeys: the pages and JSON steps refuse bad input with field-level 4xx answers; rename and remove; recovery
codes still work for a passkey-only account. The browser journey (a real authenticator) is test_passkeys_browser."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from webauthn.helpers import bytes_to_base64url

from konsil.accounts import mfa, passkeys
from konsil.accounts.models import Passkey
from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent

from ..factories import make_user

pytestmark = pytest.mark.django_db


def _passkey(user, name="Phone") -> Passkey:
    return Passkey.objects.create(user=user, name=name, confirmed=True,
                                  credential_id=bytes_to_base64url(f"cred-{name}".encode()),
                                  public_key=b"\x01" * 10)


def _post(client, name, body):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(reverse(name), data=data, content_type="application/json")


def test_options_need_a_signed_in_person_for_enrolment(client, db):
    assert _post(client, "accounts:passkey_register_options", {}).status_code == 401
    assert _post(client, "accounts:passkey_register", {}).status_code == 401
    assert client.get(reverse("accounts:passkey_register_options")).status_code == 405


def test_a_patient_gets_registration_options_bound_to_the_session(client, patient_user):
    client.force_login(patient_user)
    response = _post(client, "accounts:passkey_register_options", {})
    options = response.json()
    assert response.status_code == 200 and options["rp"]["id"] == "testserver" and options["challenge"]
    assert client.session[passkeys.SESSION_KEY]["kind"] == "register"


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", {"credential": "x"}, {"credential": {"id": "x"}},
                                  {"credential": {"id": "x", "rawId": "x", "response": {}, "type": "public-key"}},
                                  {"credential": {"response": {"clientDataJSON": "\u0000"}}}, b"{" * 5000])
def test_bad_registration_answers_are_field_level_400s(client, patient_user, body):
    client.force_login(patient_user)
    _post(client, "accounts:passkey_register_options", {})
    response = _post(client, "accounts:passkey_register", body)
    assert response.status_code == 400 and "credential" in response.json()["errors"]
    assert not Passkey.objects.exists()


def test_an_answer_without_a_challenge_is_refused(client, patient_user):
    client.force_login(patient_user)
    response = _post(client, "accounts:passkey_register", {"credential": {}})
    assert response.status_code == 400 and response.json()["code"] == "challenge_expired"


def test_staff_must_confirm_their_second_factor_before_adding(client, coordinator, settings):
    settings.KONSIL_MFA_ENROL_PROOF = True
    client.force_login(coordinator)  # password only: no second factor this session
    assert _post(client, "accounts:passkey_register_options", {}).status_code == 403
    assert client.get(reverse("accounts:passkeys")).status_code == 302
    session = client.session  # the e-mailed code proved the account: a first passkey may be added
    session[mfa.SESSION_KEY] = {"user": str(coordinator.pk), "proven": True}
    session.save()
    assert _post(client, "accounts:passkey_register_options", {}).status_code == 200


@pytest.mark.parametrize("credential", [{}, {"id": "unknown", "rawId": "unknown"}, {"rawId": 5}, "x", None])
def test_unknown_or_malformed_sign_in_answers_are_refused(client, patient_user, credential):
    _passkey(patient_user)
    assert _post(client, "accounts:passkey_auth_options", {}).status_code == 200  # passwordless
    response = _post(client, "accounts:passkey_auth", {"credential": credential})
    assert response.status_code == 400 and response.json()["errors"]["credential"]
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.passkey_use", outcome="failure").exists()


def test_a_forged_signature_for_a_known_passkey_is_refused(client, patient_user):
    _passkey(patient_user)
    _post(client, "accounts:passkey_auth_options", {})
    cred = Passkey.objects.get().credential_id
    forged = {"id": cred, "rawId": cred, "type": "public-key",
              "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}}
    response = _post(client, "accounts:passkey_auth", {"credential": forged})
    assert response.status_code == 400 and "_auth_user_id" not in client.session


def test_second_factor_options_list_only_the_persons_passkeys(client, patient_user, other_patient):
    mine, _theirs = _passkey(patient_user), _passkey(other_patient, "Other")
    client.force_login(patient_user)
    options = _post(client, "accounts:passkey_auth_options", {}).json()
    assert [c["id"] for c in options["allowCredentials"]] == [mine.credential_id]
    assert options["userVerification"] == "preferred"


def test_rename_and_remove_own_passkeys_only(client, login, coordinator, other_patient):
    mine, theirs = _passkey(coordinator), _passkey(other_patient, "Other")
    second = _passkey(coordinator, "Key")
    login(client, coordinator)
    page = client.get(reverse("accounts:passkeys"))
    assert page.status_code == 200 and "Phone" in page.content.decode() and "Other" not in page.content.decode()
    client.post(reverse("accounts:passkeys"), {"action": "rename", "passkey": mine.pk, "name": "  Work   phone "})
    assert Passkey.objects.get(pk=mine.pk).name == "Work phone"
    bad = client.post(reverse("accounts:passkeys"), {"action": "rename", "passkey": mine.pk, "name": "a\x00b"})
    assert bad.status_code == 400 and Passkey.objects.get(pk=mine.pk).name == "Work phone"
    client.post(reverse("accounts:passkeys"), {"action": "remove", "passkey": theirs.pk})
    assert Passkey.objects.filter(pk=theirs.pk).exists()  # not theirs to remove
    client.post(reverse("accounts:passkeys"), {"action": "remove", "passkey": second.pk})
    assert not Passkey.objects.filter(pk=second.pk).exists()
    assert {"auth.passkey_rename", "auth.passkey_remove"} <= set(AuditEvent.objects.values_list("action", flat=True))


def test_the_last_second_factor_of_staff_stays(client, coordinator):
    only = _passkey(coordinator)
    with pytest.raises(Exception, match="only second factor"):
        passkeys.remove(actor=coordinator, passkey=only)


def test_a_passkey_only_account_is_offered_passkeys_and_recovery_codes(client, network):
    specialist_user = make_user(Role.COORDINATOR, network, email="keyonly@example.test")
    _passkey(specialist_user)
    codes = mfa.new_recovery_codes(specialist_user)
    client.force_login(specialist_user)
    page = client.get(reverse("accounts:mfa"))
    body = page.content.decode()
    assert page.status_code == 200 and 'id="passkey-factor"' in body and 'name="recovery_code"' in body
    assert 'name="code"' not in body  # no authenticator app to ask a code of
    response = client.post(reverse("accounts:mfa"), {"action": "recovery", "recovery_code": codes[0]})
    assert response.status_code == 302
    assert client.get(reverse("cases:queue")).status_code == 200  # verified by the recovery code


def test_an_administrators_reset_removes_passkeys(coordinator, network):
    _passkey(coordinator)
    admin = make_user(Role.ORG_ADMIN, network)
    mfa.reset_mfa(actor=admin, user=coordinator, reason="lost phone")
    assert not Passkey.objects.filter(user=coordinator).exists()
