"""Template context shared by every page."""

from django.conf import settings


def konsil(request):
    user = getattr(request, "user", None)
    unread = 0
    roles: set[str] = set()
    if user is not None and user.is_authenticated:
        unread = user.notifications.filter(read_at__isnull=True).count()
        roles = user.role_set()
    return {"unread_notifications": unread, "user_roles": roles, "KONSIL_VERSION": settings.KONSIL_VERSION}
