"""API tokens: authentication, issue, list, revoke; and the events that end every token and session of a user
(sign out everywhere, a password change, an MFA reset)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from konsil.audit.services import emit

from .models import ApiToken, User

KEYWORDS = (b"token", b"bearer")
TOUCH_SECONDS = 60  # last use is written at most once a minute per token


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token ks_...` (or Bearer): a live token of an active user; a read-only token cannot write."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = ApiToken.find(raw)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.is_live:
            raise exceptions.AuthenticationFailed(_("This token has expired or was revoked."))
        if not token.allows(request.method):
            raise exceptions.PermissionDenied(_("This token may only read."))
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > TOUCH_SECONDS:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return "Token"


def issue(*, user, name: str = "", scopes=None, days: int | None = None) -> tuple[ApiToken, str]:
    with transaction.atomic():
        token, raw = ApiToken.issue(user=user, name=name, scopes=scopes, days=days)
        emit(actor=user, action="auth.token", object_type="accounts.apitoken", object_id=str(token.pk),
             detail={"scopes": token.scopes, "expires": token.expires_at.date().isoformat()})
    return token, raw


def tokens_of(user):
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def revoke(*, actor, token: ApiToken, reason: str = "owner") -> None:
    with transaction.atomic():
        if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now(), revoked_reason=reason):
            emit(actor=actor, action="auth.token_revoke", object_type="accounts.apitoken", object_id=str(token.pk),
                 detail={"reason": reason})


def revoke_all(*, user, actor=None, reason: str) -> int:
    """End every live token of `user`; audited with the count."""
    with transaction.atomic():
        n = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason)
        if n:
            emit(actor=actor or user, action="auth.token_revoke_all", object_type="accounts.user",
                 object_id=str(user.pk), detail={"reason": reason, "tokens": n})
    return n


def end_everything(*, user, actor=None, reason: str) -> None:
    """Sign out everywhere: every session (through the session hash) and every API token."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
        user.refresh_from_db(fields=["session_epoch"])
        revoke_all(user=user, actor=actor, reason=reason)
        emit(actor=actor or user, action="auth.logout_all", object_type="accounts.user", object_id=str(user.pk),
             detail={"reason": reason})


def note_password_change(sender, instance: User, **kwargs) -> None:
    """pre_save of User: remember whether the password hash changes."""
    if instance._state.adding or not instance.pk:
        return
    old = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._konsil_password_changed = old is not None and old != instance.password


def password_changed(sender, instance: User, created: bool = False, **kwargs) -> None:
    """post_save of User: a new password ends the user's API tokens (sessions end through Django's own hash)."""
    if getattr(instance, "_konsil_password_changed", False):
        instance._konsil_password_changed = False
        revoke_all(user=instance, reason="password_change")
