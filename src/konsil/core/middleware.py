"""Request context for the audit trail."""

from . import context


def client_ip(request) -> str | None:
    """The client address (REMOTE_ADDR; a trusted proxy sets it via the server's configuration)."""
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = "api" if request.path.startswith("/api/") else "web"
        token = context.set_current(
            context.RequestContext(
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
                channel=channel,
            )
        )
        try:
            return self.get_response(request)
        finally:
            context.reset(token)
