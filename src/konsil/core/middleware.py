"""Request context for the audit trail; security headers on every dynamic response; the idle-session touch."""

import time

from django.conf import settings
from django.utils.cache import patch_cache_control

from . import context

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
       "connect-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
ADMIN_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")  # Django's admin sets style=""
PHI_PREFIXES = ("/api/", "/shared/", "/verify/", "/dicomweb/", "/cases/", "/records/", "/audit/", "/accounts/",
                "/matching/", "/admin/")


def client_ip(request) -> str | None:
    """The client address: REMOTE_ADDR, or the X-Forwarded-For entry added by the last of the
    REST_FRAMEWORK["NUM_PROXIES"] trusted proxies (KONSIL_NUM_PROXIES; 0 trusts no header)."""
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-min(proxies, len(hops))] if hops else remote


class SecurityHeadersMiddleware:
    """A strict Content-Security-Policy (no inline script) on every page, and no-store on every response that may
    carry patient data (any signed-in response, and every route below the PHI prefixes)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            policy = settings.KONSIL_CSP or (ADMIN_CSP if request.path.startswith("/admin/") else CSP)
            response["Content-Security-Policy"] = policy
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path.startswith(PHI_PREFIXES):
            patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
            response["Pragma"] = "no-cache"
        return response


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = "api" if request.path.startswith(("/api/", "/fhir/")) else "web"
        token = context.set_current(
            context.RequestContext(
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
                channel=channel,
            )
        )
        memo = context.start_memo() if request.method in ("GET", "HEAD") else None
        try:
            return self.get_response(request)
        finally:
            if memo is not None:
                context.end_memo(memo)
            context.reset(token)


class SessionTouchMiddleware:
    """The idle timeout without a session write on every request: a signed-in session is saved again (its expiry
    pushed forward) only when its last touch is older than KONSIL_SESSION_TOUCH_SECONDS. Polling pages (a consult
    room, an upload's progress) then cost no write per poll, and the timeout stays exact to that many seconds."""

    KEY = "_touched"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty():
            return response
        now = int(time.time())
        try:
            last = int(session.get(self.KEY, 0))
        except (TypeError, ValueError):
            last = 0
        if session.modified or now - last >= settings.KONSIL_SESSION_TOUCH_SECONDS:
            session[self.KEY] = now
        return response
