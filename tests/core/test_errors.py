"""Domain errors: codes, HTTP statuses and the JSON body the API returns."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from konsil.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed


def test_statuses_and_default_codes():
    assert [(e.status, e.code) for e in (ValidationFailed, Conflict, PermissionDenied, NotFound)] == [
        (400, "invalid"), (409, "conflict"), (403, "forbidden"), (404, "not_found")]
    assert all(issubclass(e, DomainError) for e in (ValidationFailed, Conflict, PermissionDenied, NotFound))


def test_as_dict_with_one_field():
    error = ValidationFailed(gettext_lazy("Choose a specialty."), field="specialty")
    assert error.as_dict() == {"code": "invalid", "detail": "Choose a specialty.",
                               "errors": {"specialty": ["Choose a specialty."]}}
    assert str(error) == "Choose a specialty."


def test_as_dict_with_several_fields_and_a_code():
    error = Conflict("Not now.", code="illegal_transition",
                     errors={"a": [gettext_lazy("One.")], "b": ["Two.", "Three."]})
    assert error.code == "illegal_transition" and Conflict.code == "conflict"
    assert error.as_dict() == {"code": "illegal_transition", "detail": "Not now.",
                               "errors": {"a": ["One."], "b": ["Two.", "Three."]}}


def test_as_dict_without_fields():
    assert NotFound("Gone.").as_dict() == {"code": "not_found", "detail": "Gone.", "errors": {}}
