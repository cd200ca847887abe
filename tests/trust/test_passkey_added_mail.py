"""A passkey is a whole credential (it signs in without the password): when one is added, the account's owner is
told by e-mail, so a passkey slipped in with a stolen password does not stay unnoticed after a password reset."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import reverse

from konsil.accounts.models import Passkey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _attestation(challenge: str, *, rp_id="testserver", origin="http://testserver") -> dict:
    """A real registration answer ("none" attestation) of a fresh P-256 key, as a browser would send it."""
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
    credential_id = os.urandom(16)
    auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([0x45]) + struct.pack(">I", 0) + bytes(16)
                 + struct.pack(">H", len(credential_id)) + credential_id + cose)
    client_data = json.dumps({"type": "webauthn.create", "challenge": challenge, "origin": origin}).encode()
    return {"id": _b64url(credential_id), "rawId": _b64url(credential_id), "type": "public-key",
            "response": {"clientDataJSON": _b64url(client_data),
                         "attestationObject": _b64url(cbor2.dumps({"fmt": "none", "attStmt": {},
                                                                   "authData": auth_data}))}}


def _add_passkey(client, name="Laptop"):
    options = client.post(reverse("accounts:passkey_register_options"))
    assert options.status_code == 200, options.content
    credential = _attestation(options.json()["challenge"])
    return client.post(reverse("accounts:passkey_register"), json.dumps({"credential": credential, "name": name}),
                       content_type="application/json")


def test_adding_a_passkey_tells_the_owner_by_email(client, login, patient_user, mailoutbox,
                                                   django_capture_on_commit_callbacks):
    login(client, patient_user)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _add_passkey(client)
    assert response.status_code == 201, response.content
    assert Passkey.objects.filter(user=patient_user, name="Laptop").exists()
    [mail] = mailoutbox
    assert mail.to == [patient_user.email]
    assert "Laptop" in mail.body and reverse("accounts:passkeys") in mail.body
    assert "password" in mail.body.lower()  # what to do when it was not them


def test_a_refused_passkey_sends_nothing(client, login, patient_user, mailoutbox,
                                         django_capture_on_commit_callbacks):
    login(client, patient_user)
    client.post(reverse("accounts:passkey_register_options"))
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:passkey_register"),
                               json.dumps({"credential": _attestation("not-the-challenge"), "name": "Laptop"}),
                               content_type="application/json")
    assert response.status_code == 400
    assert mailoutbox == [] and not Passkey.objects.filter(user=patient_user).exists()
