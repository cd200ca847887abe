"""A passkey answer is good once. Two requests that loaded the same session before either saved it (an answer
replayed in a race) both still hold the challenge; the shared cache's claim lets only the first one through,
also for synced passkeys whose signature counter stays at 0 and so cannot expose a replay."""

from __future__ import annotations

import hashlib
import json
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.urls import reverse

from konsil.accounts import passkeys
from konsil.accounts.models import Passkey
from konsil.core.errors import ValidationFailed

from .test_passkey_added_mail import _b64url


def _passkey_of(user) -> tuple[Passkey, ec.EllipticCurvePrivateKey]:
    import cbor2

    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
    passkey = Passkey.objects.create(user=user, name="Phone", credential_id=_b64url(b"replay-credential"),
                                     public_key=cose, sign_count=0, confirmed=True)
    return passkey, key


def _assertion(key, challenge: str, *, rp_id="testserver", origin="http://testserver") -> dict:
    """A real sign-in answer with a counter of 0 (as synced passkeys send), signed by `key`."""
    auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([0x05]) + struct.pack(">I", 0)
    client_data = json.dumps({"type": "webauthn.get", "challenge": challenge, "origin": origin}).encode()
    signature = key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
    raw = _b64url(b"replay-credential")
    return {"id": raw, "rawId": raw, "type": "public-key",
            "response": {"clientDataJSON": _b64url(client_data), "authenticatorData": _b64url(auth_data),
                         "signature": _b64url(signature), "userHandle": None},
            "clientExtensionResults": {}}


def _request_on(session_key: str):
    request = RequestFactory().post("/accounts/passkeys/authenticate/")
    request.session = SessionStore(session_key)
    request.session.load()
    return request


def test_an_answer_raced_in_twice_on_one_session_signs_in_once(client, patient_user):
    _passkey, key = _passkey_of(patient_user)
    options = client.post(reverse("accounts:passkey_auth_options"))
    assert options.status_code == 200, options.content
    credential = _assertion(key, json.loads(options.content)["challenge"])
    session_key = client.session.session_key
    first, second = _request_on(session_key), _request_on(session_key)  # both loaded before either saved
    assert passkeys.authenticate(first, credential=credential).user == patient_user
    try:
        passkeys.authenticate(second, credential=credential)
    except ValidationFailed as exc:
        assert exc.code == "challenge_expired"
    else:
        raise AssertionError("the same answer signed in twice")


def test_the_answer_still_signs_in_through_the_page(client, patient_user):
    _passkey, key = _passkey_of(patient_user)
    options = client.post(reverse("accounts:passkey_auth_options"))
    credential = _assertion(key, json.loads(options.content)["challenge"])
    response = client.post(reverse("accounts:passkey_auth"), json.dumps({"credential": credential}),
                           content_type="application/json")
    assert response.status_code == 200, response.content
    again = client.post(reverse("accounts:passkey_auth"), json.dumps({"credential": credential}),
                        content_type="application/json")
    assert again.status_code == 400
