"""Mappers from Konsil's models to FHIR resources (plain dicts, checked with fhir.resources R4B models)."""

from __future__ import annotations

from fhir.resources.R4B import get_fhir_model_class


def validate(resource: dict) -> dict:
    """The resource as the fhir.resources model reads it back (raises pydantic's ValidationError)."""
    model = get_fhir_model_class(resource["resourceType"])
    return model.model_validate(resource).model_dump(mode="json", exclude_none=True)
