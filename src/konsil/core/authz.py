"""One registry of named permission checks, used by the API and the pages alike.

Apps register checks in their `permissions.py` with `@rule("name")`; callers use `can(name, user, obj)`
or `require(name, user, obj)`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext_lazy as _

from .errors import PermissionDenied

_RULES: dict[str, Callable] = {}


def rule(name: str):
    """Register a check `fn(user, obj) -> bool` under `name`."""

    def decorator(fn):
        if name in _RULES and _RULES[name] is not fn:
            raise RuntimeError(f"permission rule {name!r} registered twice")
        _RULES[name] = fn
        return fn

    return decorator


def can(name: str, user, obj=None) -> bool:
    """True when `user` passes the named check for `obj`."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(_RULES[name](user, obj))


def require(name: str, user, obj=None) -> None:
    """Raise PermissionDenied unless the check passes."""
    if not can(name, user, obj):
        raise PermissionDenied(_("You do not have permission to do this."))


def require_page(name: str, user, obj=None) -> None:
    """For pages: raise Django's PermissionDenied (the 403 page) unless the check passes."""
    from django.core.exceptions import PermissionDenied as PageDenied

    if not can(name, user, obj):
        raise PageDenied(_("You do not have permission to do this."))


def registered() -> list[str]:
    return sorted(_RULES)
