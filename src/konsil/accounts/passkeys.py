"""WebAuthn passkeys (py_webauthn): enrol, list, rename, remove; use one as the second factor, or sign in with
one alone (passwordless: the authenticator must verify the person, so it is both factors).

Challenges live in the server-side session for five minutes and are spent by the first answer. Only public keys
are stored. Every enrolment, use, refusal, rename and removal is audited. Recovery codes keep working. The
relying party is the site's host (KONSIL_WEBAUTHN_RP_ID overrides it behind a proxy).
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from konsil.audit.models import Outcome
from konsil.audit.services import emit
from konsil.core.errors import PermissionDenied, ValidationFailed

from .models import Passkey, User

SESSION_KEY = "konsil_webauthn"
CHALLENGE_SECONDS = 300
MAX_PASSKEYS = 10
NAME_MAX = 60
TRANSPORTS = {"usb", "nfc", "ble", "internal", "hybrid", "smart-card"}


def relying_party(request) -> tuple[str, str]:
    """(RP id, expected origin) for this request."""
    host = request.get_host()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return getattr(settings, "KONSIL_WEBAUTHN_RP_ID", "") or name, f"{request.scheme}://{host}"


def passkeys_of(user):
    return Passkey.objects.filter(user=user, confirmed=True)


def may_manage(request, user) -> bool:
    """Adding or removing a passkey needs this session's second factor (or the e-mailed enrolment proof); a person
    with no second factor yet, who need not have one, proves it with the password sign-in."""
    from . import mfa

    if user.is_verified() or mfa.enrolment_proven(request, user):
        return True
    has_factor = passkeys_of(user).exists() or user.totpdevice_set.filter(confirmed=True).exists()
    # the first factor of someone who must have one follows the same rule as an authenticator app's enrolment
    return not has_factor and (not user.requires_mfa or not settings.KONSIL_MFA_ENROL_PROOF)


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id))


def _remember(request, kind: str, challenge: bytes, user=None) -> None:
    request.session[SESSION_KEY] = {"kind": kind, "challenge": bytes_to_base64url(challenge),
                                    "user": str(user.pk) if user else "", "until": time.time() + CHALLENGE_SECONDS}


def _spend(request, kind: str) -> dict:
    """This session's challenge, once: popped from the session, and claimed in the shared cache so that two
    requests that loaded the session before either saved it (a replayed answer raced in) cannot both use it."""
    state = request.session.pop(SESSION_KEY, None) or {}
    expired = ValidationFailed(_("The request expired. Try again."), field="credential", code="challenge_expired")
    if state.get("kind") != kind or state.get("until", 0) < time.time():
        raise expired
    if not cache.add(f"konsil:webauthn-spent:{state.get('challenge', '')}", 1, CHALLENGE_SECONDS + 60):
        raise expired
    return state


def registration_options(request, user) -> str:
    if not may_manage(request, user):
        raise PermissionDenied(_("Confirm your second factor first."))
    existing = list(passkeys_of(user))
    if len(existing) >= MAX_PASSKEYS:
        raise ValidationFailed(_("You have %(n)d passkeys, the most allowed. Remove one first.") % {"n": MAX_PASSKEYS},
                               field="name", code="too_many_passkeys")
    rp_id, _origin = relying_party(request)
    options = generate_registration_options(
        rp_id=rp_id, rp_name=settings.KONSIL_BRAND_NAME, user_name=user.email, user_id=user.pk.bytes,
        user_display_name=user.email, exclude_credentials=[_descriptor(p) for p in existing],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED))
    _remember(request, "register", options.challenge, user)
    return options_to_json(options)


def clean_name(name) -> str:
    name = " ".join(str(name or "").split())[:NAME_MAX]
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise ValidationFailed(_("Use plain text for the name."), field="name")
    return name or _("Passkey")


def register(request, user, *, credential, name="") -> Passkey:
    """Verify the browser's answer to the registration options and keep the passkey."""
    state = _spend(request, "register")
    if state.get("user") != str(user.pk) or not may_manage(request, user):
        raise PermissionDenied(_("Confirm your second factor first."))
    name = clean_name(name)
    rp_id, origin = relying_party(request)
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=rp_id, expected_origin=origin)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        emit(actor=user, action="auth.passkey_add", object_type="accounts.user", object_id=str(user.pk),
             outcome=Outcome.FAILURE, detail={"error": type(exc).__name__})
        raise ValidationFailed(_("The passkey could not be verified. Try again."), field="credential") from None
    transports = credential.get("response", {}).get("transports", []) if isinstance(credential, dict) else []
    with transaction.atomic():
        passkey = Passkey.objects.create(
            user=user, name=name, confirmed=True, credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key, sign_count=verified.sign_count,
            transports=[t for t in transports if t in TRANSPORTS][:6] if isinstance(transports, list) else [])
        emit(actor=user, action="auth.passkey_add", obj=passkey, detail={"name": passkey.name})
        transaction.on_commit(lambda: _tell_owner(request, user, passkey))
    return passkey


def _tell_owner(request, user: User, passkey: Passkey) -> None:
    """E-mail the owner that a passkey was added: it signs in without the password, so one added by someone who
    knew the password would otherwise outlive a password reset unnoticed. No secret in the mail."""
    page = request.build_absolute_uri(reverse("accounts:passkeys"))
    send_mail(_("A passkey was added to your Konsil account"),
              _("A passkey named \"%(name)s\" was added to your account. It can sign you in without your password.\n\n"
                "If this was not you, change your password and remove the passkey on %(page)s, then tell your "
                "administrator.") % {"name": passkey.name, "page": page},
              None, [user.email])


def authentication_options(request, user=None) -> str:
    """Options for the second factor of `user`, or (no user) for a passwordless sign-in with any passkey."""
    rp_id, _origin = relying_party(request)
    allow = [_descriptor(p) for p in passkeys_of(user)] if user else []
    if user is not None and not allow:
        raise ValidationFailed(_("You have no passkey yet."), field="credential", code="no_passkey")
    options = generate_authentication_options(
        rp_id=rp_id, allow_credentials=allow,
        user_verification=UserVerificationRequirement.PREFERRED if user else UserVerificationRequirement.REQUIRED)
    _remember(request, "authenticate", options.challenge, user)
    return options_to_json(options)


def authenticate(request, *, credential) -> Passkey:
    """The passkey that answered this session's challenge (its counter moved on), or ValidationFailed."""
    state = _spend(request, "authenticate")
    refused = ValidationFailed(_("That passkey was not accepted. Try again, or use another way to sign in."),
                               field="credential", code="passkey_refused")
    raw_id = (credential.get("rawId") or credential.get("id")) if isinstance(credential, dict) else None
    passkey = (Passkey.objects.select_related("user").filter(credential_id=str(raw_id)[:1400], confirmed=True)
               .first() if isinstance(raw_id, str) else None)
    if passkey is None or (state.get("user") and str(passkey.user_id) != state["user"]):
        emit(actor="anonymous" if not state.get("user") else state["user"], action="auth.passkey_use",
             object_type="accounts.passkey", object_id="", outcome=Outcome.FAILURE, detail={"reason": "unknown"})
        raise refused
    passwordless = not state.get("user")
    rp_id, origin = relying_party(request)
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(state["challenge"]), expected_rp_id=rp_id,
            expected_origin=origin, credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count, require_user_verification=passwordless)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        emit(actor=passkey.user, action="auth.passkey_use", obj=passkey, outcome=Outcome.FAILURE,
             detail={"error": type(exc).__name__})
        raise refused from None
    if not passkey.user.is_active:
        raise refused
    Passkey.objects.filter(pk=passkey.pk).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
    emit(actor=passkey.user, action="auth.passkey_use", obj=passkey, detail={"passwordless": passwordless})
    return passkey


def rename(*, actor: User, passkey: Passkey, name: str) -> None:
    passkey.name = clean_name(name)
    passkey.save(update_fields=["name"])
    emit(actor=actor, action="auth.passkey_rename", obj=passkey, detail={"name": passkey.name})


def remove(*, actor: User, passkey: Passkey) -> None:
    """Remove a passkey; the last second factor of someone who must have one stays (recovery codes are not one)."""
    user = passkey.user
    others = passkeys_of(user).exclude(pk=passkey.pk).exists() or user.totpdevice_set.filter(confirmed=True).exists()
    if user.requires_mfa and not others:
        raise ValidationFailed(_("This is your only second factor. Add another one before removing it."),
                               field="passkey", code="last_factor")
    with transaction.atomic():
        emit(actor=actor, action="auth.passkey_remove", obj=passkey, detail={"name": passkey.name})
        passkey.delete()


def parse(body: bytes) -> dict:
    """The JSON body of a passkey request (a small object), or ValidationFailed."""
    if len(body) > 64 * 1024:
        raise ValidationFailed(_("The request is too large."), field="credential")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(_("Send a JSON object."), field="credential") from None
    if not isinstance(data, dict):
        raise ValidationFailed(_("Send a JSON object."), field="credential")
    return data
