"""Two-factor sign-in that is not trust-on-first-use.

Enrolling an authenticator (first time, or after an administrator's reset) first proves the account: a one-time
code is e-mailed to the account's address and must be typed back within ten minutes (five tries). Only then is the
QR code shown. Enrolment hands out ten recovery codes (stored as hashes; each works once). Resets are audited and end
every session and API token of the person.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.models import Outcome
from konsil.audit.services import emit

from .models import Passkey, RecoveryCode, User

SESSION_KEY = "konsil_mfa_enrol_proof"
CODE_SECONDS = 600
MAX_TRIES = 5
RECOVERY_CODES = 10


def _digest(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def _normalize(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def send_enrolment_code(request, user: User) -> None:
    """E-mail a fresh 6-digit code to the account and remember its hash in the session."""
    code = f"{secrets.randbelow(10**6):06d}"
    request.session[SESSION_KEY] = {"user": str(user.pk), "digest": _digest(code), "until": time.time() + CODE_SECONDS,
                                    "tries": 0, "proven": False}
    send_mail(_("Your Konsil code to set up two-factor sign-in"),
              _("Your code is %(code)s. It expires in 10 minutes. If you did not try to set up two-factor sign-in, "
                "tell your administrator: someone may know your password.") % {"code": code},
              None, [user.email])
    emit(actor=user, action="auth.mfa_enrol_code_sent", object_type="accounts.user", object_id=str(user.pk))


def enrolment_proven(request, user: User) -> bool:
    state = request.session.get(SESSION_KEY) or {}
    return state.get("user") == str(user.pk) and state.get("proven") is True


def code_pending(request, user: User) -> bool:
    state = request.session.get(SESSION_KEY) or {}
    return state.get("user") == str(user.pk) and state.get("until", 0) > time.time() and not state.get("proven")


def check_enrolment_code(request, user: User, code: str) -> str:
    """"" when the e-mailed code matches (the session is then proven); else the message to show."""
    state = request.session.get(SESSION_KEY) or {}
    if state.get("user") != str(user.pk) or state.get("until", 0) <= time.time():
        return _("The code has expired. Send a new one.")
    if state.get("tries", 0) >= MAX_TRIES:
        return _("Too many wrong codes. Send a new one.")
    state["tries"] = state.get("tries", 0) + 1
    ok = hmac.compare_digest(state.get("digest", ""), _digest(_normalize(code)))
    state["proven"] = ok
    request.session[SESSION_KEY] = state
    emit(actor=user, action="auth.mfa_enrol_proof", object_type="accounts.user", object_id=str(user.pk),
         outcome=Outcome.SUCCESS if ok else Outcome.FAILURE)
    return "" if ok else _("The code is not correct.")


def finish_enrolment(request) -> None:
    request.session.pop(SESSION_KEY, None)


def new_recovery_codes(user: User) -> list[str]:
    """Ten fresh one-time codes (the old ones stop working); shown once."""
    codes = ["-".join(secrets.token_hex(2).upper() for _ in range(3)) for _ in range(RECOVERY_CODES)]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create([RecoveryCode(user=user, digest=_digest(_normalize(c))) for c in codes])
        emit(actor=user, action="auth.recovery_codes", object_type="accounts.user", object_id=str(user.pk),
             detail={"codes": len(codes)})
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """True (and the code is spent) when `code` is one of the user's unused recovery codes."""
    normalized = _normalize(code)
    if len(normalized) != 12:
        return False
    with transaction.atomic():
        used = RecoveryCode.objects.filter(user=user, digest=_digest(normalized), used_at__isnull=True).update(
            used_at=timezone.now())
        emit(actor=user, action="auth.recovery_code_used", object_type="accounts.user", object_id=str(user.pk),
             outcome=Outcome.SUCCESS if used else Outcome.FAILURE)
    return bool(used)


def reset_mfa(*, actor, user: User, reason: str) -> None:
    """An administrator's reset: authenticator apps, passkeys and recovery codes gone, every session and API token
    ended, audited."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from .tokens import end_everything

    with transaction.atomic():
        devices = TOTPDevice.objects.filter(user=user).delete()[0] + Passkey.objects.filter(user=user).delete()[0]
        RecoveryCode.objects.filter(user=user).delete()
        end_everything(user=user, actor=actor, reason="mfa_reset")
        emit(actor=actor, action="auth.mfa_reset", object_type="accounts.user", object_id=str(user.pk),
             role="admin", detail={"reason": reason, "devices": devices})
