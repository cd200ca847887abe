"""The patient's county at intake: form, service and API; a county of another state is refused by field."""

from __future__ import annotations

import pytest

from konsil.cases import services
from konsil.cases.forms import PatientForm
from konsil.core.errors import ValidationFailed

from ..conftest import verified_login

pytestmark = pytest.mark.django_db

PATIENT = {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
           "state": "WY", "country": "US", "language": "en"}


def test_service_keeps_a_county_of_the_state_and_refuses_others(network, patient_user):
    case = services.create_case(actor=patient_user, network=network,
                                data={"patient": {**PATIENT, "county": "56001"}})
    assert (case.patient.county, case.identity.county) == ("56001", "56001")
    for county in ("06037", "99999", "x" * 400):  # Los Angeles is not in Wyoming; unknown; junk
        with pytest.raises(ValidationFailed) as refused:
            services.create_case(actor=patient_user, network=network,
                                 data={"patient": {**PATIENT, "county": county}})
        assert "patient.county" in refused.value.errors


def test_form_offers_counties_by_state():
    form = PatientForm({**PATIENT, "county": "06037"})
    assert not form.is_valid() and "county" in form.errors
    assert PatientForm({**PATIENT, "county": "56001"}).is_valid()
    groups = dict(PatientForm().fields["county"].choices[1:])
    assert ("56001", "Albany County") in groups["WY"]


def test_api_takes_and_returns_the_county(client, network, patient_user):
    verified_login(client, patient_user)
    response = client.post("/api/v1/cases/", {"patient": {**PATIENT, "county": "56021"}},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["patient"]["county"] == "56021"
    bad = client.post("/api/v1/cases/", {"patient": {**PATIENT, "county": "06037"}}, content_type="application/json")
    assert bad.status_code == 400 and "patient.county" in bad.json()["errors"]


def test_county_names_read_as_written():
    """Accented names as the places spell them (the USDA file came as Mac Roman read as Windows-1252: "Rinc—n")."""
    from konsil.core import geo

    assert geo.county("72117").name == "Rincón Municipio" and geo.county("35013").name == "Doña Ana County"
    assert ("72097", "Mayagüez Municipio") in geo.county_choices("PR")
    garbled = [c.name for c in geo.counties().values() if set(c.name) & set("—‡’–Ÿ")]
    assert not garbled
