"""Domain errors with codes; the API turns them into JSON 400/403/404/409, pages show the message."""

from __future__ import annotations


class DomainError(Exception):
    """A refused operation. `field` names the input at fault, when there is one."""

    status = 400
    code = "invalid"

    def __init__(self, message, *, field: str | None = None, code: str | None = None, errors=None):
        super().__init__(str(message))
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.errors = errors  # optional {field: [messages]} for several fields at once

    def as_dict(self) -> dict:
        """The JSON body: {"code", "detail", "errors": {field: [message]}}."""
        errors = self.errors or ({self.field: [str(self.message)]} if self.field else {})
        return {
            "code": self.code,
            "detail": str(self.message),
            "errors": {k: [str(m) for m in v] for k, v in errors.items()},
        }


class ValidationFailed(DomainError):
    status = 400
    code = "invalid"


class Conflict(DomainError):
    """The request is valid but the object's state forbids it (an illegal transition, say)."""

    status = 409
    code = "conflict"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"
