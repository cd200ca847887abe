"""Template context shared by every page: roles, unread notifications, version, and the product's face."""

from django.conf import settings
from django.templatetags.static import static

from .zones import display_zone


def brand_logo_url() -> str:
    """The logo's address: an absolute URL or site path as given, a static path otherwise; '' for none."""
    logo = (getattr(settings, "KONSIL_BRAND_LOGO", "") or "").strip()
    if not logo:
        return ""
    if logo.startswith(("http://", "https://", "/")):
        return logo
    return static(logo)


def konsil(request):
    user = getattr(request, "user", None)
    unread = 0
    roles: set[str] = set()
    if user is not None and user.is_authenticated:
        roles = user.role_set()
        if not user.requires_mfa or user.is_verified():  # before the second factor: nothing of the account
            unread = user.notifications.filter(read_at__isnull=True).count()
    return {
        "unread_notifications": unread, "user_roles": roles, "KONSIL_VERSION": settings.KONSIL_VERSION,
        "BRAND_NAME": getattr(settings, "KONSIL_BRAND_NAME", "Konsil") or "Konsil",
        "BRAND_LOGO_URL": brand_logo_url(), "DISPLAY_TIME_ZONE": display_zone(request),
    }
