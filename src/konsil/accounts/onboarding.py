"""Patients sign up (e-mail verified), and invited caregivers and referring clinicians join.

Never says whether an e-mail address has an account: sign-up answers the same way for a known address (whose
owner gets a note instead), and password reset is Django's, which does the same. Links carry signed, expiring,
single-use tokens that name a row and hold no secret; attempts are throttled per client address and per address
typed. Every write is audited.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlencode, urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import override

from konsil.audit.services import emit
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed

from .models import Membership, Organization, User
from .roles import OrganizationKind, Role

INVITATION_DAYS = 14
INVITATION_SALT = "konsil.invitation"


# --- throttling -----------------------------------------------------------------------------------------------

class Throttled(Exception):
    """Too many attempts from this address (or for this e-mail) in the window."""


def throttle(scope: str, *keys: str, limit: int, window_s: int = 3600) -> None:
    """Count one attempt under each key (client address, e-mail); raise Throttled past `limit` in the window.

    Keys are hashed (no e-mail in the cache); the client address is the connection's, never X-Forwarded-For."""
    for key in keys:
        if not key:
            continue
        name = "konsil-throttle:" + scope + ":" + hashlib.sha256(key.lower().encode()).hexdigest()[:32]
        cache.add(name, 0, window_s)
        try:
            count = cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.set(name, 1, window_s)
            count = 1
        if count > limit:
            raise Throttled(scope)


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


# --- sign-up and e-mail verification -------------------------------------------------------------------------

class VerificationTokens(PasswordResetTokenGenerator):
    """Single use: the token hashes the account's active flag, which verifying turns on."""

    key_salt = "konsil.accounts.onboarding.VerificationTokens"

    def _make_hash_value(self, user, timestamp):
        return f"{user.pk}{user.is_active}{user.email}{user.password}{timestamp}"


verification_tokens = VerificationTokens()


def signup_network() -> Organization | None:
    """The network new patients join: KONSIL_SIGNUP_NETWORK (a slug), or the only active provider network."""
    networks = Organization.objects.filter(kind=OrganizationKind.PROVIDER_NETWORK, active=True)
    slug = getattr(settings, "KONSIL_SIGNUP_NETWORK", "")
    if slug:
        return networks.filter(slug=slug).first()
    return networks.first() if networks.count() == 1 else networks.filter(slug="konsil-network").first()


def _mail(template: str, to: str, ctx: dict, *, language: str = "en") -> None:
    with override(language):
        subject = render_to_string(f"accounts/{template}_subject.txt", ctx).strip()
        body = render_to_string(f"accounts/{template}_email.txt", ctx)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])


def register_patient(*, email: str, password: str, language: str, base_url: str, next_url: str = "") -> User | None:
    """Create an inactive patient account in the sign-up network and send the verification link (which leads on
    to `next_url`, a path on this site such as the program page the person came from, once they sign in).

    For an address that has an account, nothing is created and its owner is told (the caller shows the same
    page either way). Returns the new user, or None."""
    network = signup_network()
    if network is None:
        raise Conflict(_("Sign-up is not open on this site. Please contact the care team."), code="signup_closed")
    email = User.objects.normalize_email(email).strip()
    if User.objects.filter(email__iexact=email).exists() or User.objects.filter(username__iexact=email).exists():
        _mail("signup_exists", email, {"login_url": base_url + reverse("accounts:login"),
                                        "reset_url": base_url + reverse("accounts:password_reset")},
              language=language)
        emit(actor="anonymous", action="account.signup", outcome="denied", detail={"reason": "exists"})
        return None
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, is_active=False,
                                        preferred_language=language)
        Membership.objects.create(user=user, organization=network, role=Role.PATIENT)
        emit(actor=user, action="account.signup", obj=user, detail={"network": str(network.pk)})
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        link = fragment_link(base_url, "verify", uid, verification_tokens.make_token(user), next_url=next_url)
        transaction.on_commit(lambda: _mail("signup_verify", email, {"verify_url": link}, language=language))
    return user


def fragment_link(base_url: str, kind: str, *parts: str, next_url: str = "") -> str:
    """A single-use e-mailed link: the landing page's address (with where to go after, no secret), the secret
    after '#' (never sent to a server; accounts.links reads it)."""
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    return f"{base_url}{reverse('accounts:link')}{query}#{kind}.{'.'.join(parts)}"


def verify_email(*, uidb64: str, token: str) -> User:
    """Turn on the account the link names; the link works once and expires (PASSWORD_RESET_TIMEOUT)."""
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, User.DoesNotExist, signing.BadSignature):
        user = None
    except Exception:  # a malformed id (not a UUID) reads as an unknown link
        user = None
    if user is None or user.is_active or not verification_tokens.check_token(user, token):
        raise ValidationFailed(_("This link is not valid or has expired. Sign up again, or sign in."),
                               field="token", code="invalid_link")
    with transaction.atomic():
        user.is_active = True
        user.save(update_fields=["is_active"])
        emit(actor=user, action="account.verify", obj=user)
    return user


# --- invitations ---------------------------------------------------------------------------------------------

def _invitation_models():
    from konsil.cases.models import CaregiverAuthorization, Invitation, Patient

    return Invitation, Patient, CaregiverAuthorization


def invitation_token(invitation) -> str:
    return signing.dumps(str(invitation.pk), salt=INVITATION_SALT)


def invite(*, actor, kind: str, email: str, relationship: str = "", base_url: str, patient=None):
    """A caregiver invited by the patient (for their own record), or a referring clinician invited by a
    coordinator (to the coordinator's network). Sends the link by e-mail."""
    Invitation, Patient, _auth = _invitation_models()
    email = User.objects.normalize_email(str(email or "")).strip()
    errors = {}
    if "@" not in email or len(email) > 254:
        errors["email"] = [_("Enter a valid email address.")]
    if email and email.lower() == (actor.email or "").lower():
        errors["email"] = [_("Invite someone else: this is your own address.")]
    if kind == Invitation.Kind.CAREGIVER:
        patient = patient or Patient.objects.filter(user=actor).order_by("created_at").first()
        if not actor.has_role(Role.PATIENT) or patient is None or patient.user_id != actor.pk:
            raise PermissionDenied(_("Only patients invite caregivers, once they have started a case."))
        network = patient.network
        relationship = str(relationship or "").strip()[:64]
        if not relationship:
            errors["relationship"] = [_("Say how this person is related to you.")]
    elif kind == Invitation.Kind.CLINICIAN:
        network = actor.organizations_for(Role.COORDINATOR).filter(kind=OrganizationKind.PROVIDER_NETWORK).first()
        if network is None:
            raise PermissionDenied(_("Only care coordinators invite referring clinicians."))
        patient, relationship = None, ""
    else:
        raise ValidationFailed(_("Choose whom to invite."), field="kind")
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            kind=kind, network=network, patient=patient, email=email, relationship=relationship,
            invited_by=actor, expires_at=timezone.now() + timedelta(days=INVITATION_DAYS))
        emit(actor=actor, action="invitation.create", obj=invitation,
             patient_id=patient.pk if patient else None, detail={"kind": kind})
        link = fragment_link(base_url, "invite", invitation_token(invitation))
        ctx = {"link": link, "inviter": actor.display_name, "kind": kind, "network": network.name,
               "days": INVITATION_DAYS}
        language = getattr(actor, "preferred_language", "en") or "en"
        transaction.on_commit(lambda: _mail("invitation", email, ctx, language=language))
    return invitation


def invitation_for(token: str):
    """The open invitation a link names, or a ValidationFailed saying the link is not valid."""
    Invitation, _p, _a = _invitation_models()
    try:
        pk = signing.loads(str(token or "")[:300], salt=INVITATION_SALT, max_age=timedelta(days=INVITATION_DAYS))
        invitation = Invitation.objects.select_related("network", "patient", "invited_by").get(pk=pk)
    except Exception:  # a bad signature, an expired link, an unknown or malformed id: the same answer
        invitation = None
    if invitation is None or invitation.accepted_at or invitation.revoked_at or invitation.expires_at < timezone.now():
        raise ValidationFailed(_("This invitation is not valid or has expired. Ask for a new one."),
                               field="token", code="invalid_link")
    return invitation


def accept_invitation(*, invitation, user=None, password: str = "", npi: str = "", given_name: str = "",
                      family_name: str = "") -> User:
    """Join through an invitation: with the signed-in account (same e-mail), or a new account for the invited
    address (the link proved it, so it is active at once). A clinician gives a valid NPI (Luhn check)."""
    from konsil.matching.npi import is_valid_npi

    Invitation, _p, CaregiverAuthorization = _invitation_models()
    errors = {}
    clinician = invitation.kind == Invitation.Kind.CLINICIAN
    npi = str(npi or "").strip().replace(" ", "")
    if clinician and not is_valid_npi(npi):
        errors["npi"] = [_("Enter a valid 10-digit NPI (the check digit does not match).")]
    if user is not None and user.email.lower() != invitation.email.lower():
        raise PermissionDenied(_("This invitation was sent to another address. Sign out, then open the link again."))
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise Conflict(_("You already have an account: sign in, then open the link again."),
                           code="sign_in_first")
        if clinician:
            for name, value in (("given_name", given_name), ("family_name", family_name)):
                if not str(value or "").strip():
                    errors[name] = [_("This field is required.")]
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors=errors)
    role = Role.REFERRING_CLINICIAN if clinician else Role.CAREGIVER
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at:
            raise Conflict(_("This invitation was already used."), code="invitation_used")
        if user is None:
            user = User.objects.create_user(email=invitation.email, password=password,
                                            first_name=str(given_name or "").strip()[:150],
                                            last_name=str(family_name or "").strip()[:150])
            emit(actor=user, action="account.signup", obj=user, detail={"invitation": str(invitation.pk)})
        Membership.objects.update_or_create(user=user, organization=invitation.network, role=role,
                                            defaults={"active": True})
        if invitation.kind == Invitation.Kind.CAREGIVER:
            authorization = CaregiverAuthorization.objects.create(
                caregiver=user, patient=invitation.patient, relationship=invitation.relationship,
                signed_by=invitation.invited_by.display_name, signed_at=timezone.now())
            emit(actor=invitation.invited_by, action="caregiver.authorize", obj=authorization,
                 patient_id=invitation.patient_id, detail={"invitation": str(invitation.pk)})
        invitation.accepted_by, invitation.accepted_at, invitation.npi = user, timezone.now(), npi if clinician else ""
        invitation.save(update_fields=["accepted_by", "accepted_at", "npi", "updated_at"])
        emit(actor=user, action="invitation.accept", obj=invitation, patient_id=invitation.patient_id,
             detail={"kind": invitation.kind})
    return user


def revoke_invitation(*, actor, invitation) -> None:
    if invitation.invited_by_id != actor.pk:
        raise PermissionDenied(_("You may not revoke this invitation."))
    if invitation.accepted_at or invitation.revoked_at:
        raise Conflict(_("This invitation is no longer open."), code="invitation_closed")
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        emit(actor=actor, action="invitation.revoke", obj=invitation, patient_id=invitation.patient_id)
