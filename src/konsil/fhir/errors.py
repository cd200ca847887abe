"""FHIR errors: every refusal of the API is an OperationOutcome with a status, a code and a sentence."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

FHIR_JSON = "application/fhir+json"


class FhirError(Exception):
    """A refused request. `code` is an IssueType (invalid, not-found, forbidden, not-supported, ...)."""

    def __init__(self, message, *, status: int = 400, code: str = "invalid", expression: str | None = None,
                 issues: list[dict] | None = None):
        super().__init__(str(message))
        self.message = message
        self.status = status
        self.code = code
        self.expression = expression
        self.issues = issues

    def outcome(self) -> dict:
        return operation_outcome(self.issues or [
            {"code": self.code, "diagnostics": str(self.message), "expression": self.expression}])


def operation_outcome(issues: list[dict]) -> dict:
    """An OperationOutcome from [{"code", "diagnostics", "expression"?, "severity"?}]."""
    out = []
    for issue in issues:
        item = {"severity": issue.get("severity", "error"), "code": issue.get("code", "invalid"),
                "diagnostics": str(issue.get("diagnostics", ""))}
        if issue.get("expression"):
            item["expression"] = [str(issue["expression"])]
        out.append(item)
    return {"resourceType": "OperationOutcome", "issue": out}


NOT_FOUND = _("Resource not found.")
UNKNOWN_TYPE = _("This server does not serve that resource type.")
