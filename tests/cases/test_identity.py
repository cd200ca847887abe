"""Patient identity as a versioned record (#10, finding 2): a case keeps the identity it was submitted with."""

from __future__ import annotations

import pytest

from konsil.audit.models import AuditEvent
from konsil.cases import services
from konsil.cases.models import IdentityLocked, Patient, PatientIdentity
from konsil.cases.services import transition
from konsil.core.errors import ValidationFailed
from konsil.matching import selectors as matching

from ..factories import make_draft, make_specialist

PATIENT = {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
           "state": "CA", "country": "US", "language": "es"}


@pytest.fixture
def submitted(draft_case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return transition(actor=draft_case.patient.user, case=draft_case, action="submit")


def test_every_case_points_at_a_version(draft_case):
    assert draft_case.identity is not None and draft_case.identity.patient == draft_case.patient
    assert draft_case.identity.version == 1
    assert draft_case.identity.full_name == draft_case.patient.full_name


def test_editing_a_draft_after_another_case_was_submitted_keeps_the_submitted_identity(
        network, patient_user, submitted):
    before = (submitted.identity_id, submitted.identity.family_name, submitted.identity.state)
    draft = make_draft(network, patient_user)
    assert draft.identity_id == submitted.identity_id  # the same details: the same version, until changed
    services.update_case(actor=patient_user, case=draft, data={"patient": {**PATIENT, "family_name": "Ruiz",
                                                                           "state": "NY"}})
    draft.refresh_from_db()
    submitted.refresh_from_db()
    assert (submitted.identity_id, submitted.identity.family_name, submitted.identity.state) == before
    assert (draft.identity.family_name, draft.identity.state, draft.identity.version) == ("Ruiz", "NY", 2)
    assert draft.identity.supersedes_id == submitted.identity_id
    assert set(draft.identity.changed_fields) >= {"family_name", "state"}
    # The shared Patient row used by the submitted case is not overwritten.
    patient = Patient.objects.get(pk=submitted.patient_id)
    assert patient.family_name != "Ruiz" and patient.state != "NY"
    event = AuditEvent.objects.get(action="patient.identity_version")
    assert event.patient_id == submitted.patient_id and event.detail["version"] == 2
    assert "Ruiz" not in str(event.detail)  # field names, never values


def test_a_new_case_with_other_details_gets_a_new_version(network, patient_user, submitted):
    case = services.create_case(actor=patient_user, network=network,
                                data={"patient": {**PATIENT, "given_name": "Anita"}, "questions": ["Why?"]})
    submitted.refresh_from_db()
    assert case.identity.given_name == "Anita" and case.identity.version == 2
    assert submitted.identity.given_name != "Anita"


def test_a_draft_alone_on_its_version_is_edited_in_place(network, patient_user):
    case = services.create_case(actor=patient_user, network=network,
                                data={"patient": PATIENT, "questions": ["Why?"]})
    services.update_case(actor=patient_user, case=case, data={"patient": {**PATIENT, "given_name": "Anita"}})
    case.refresh_from_db()
    assert case.identity.version == 1 and case.identity.given_name == "Anita"
    assert PatientIdentity.objects.count() == 1
    assert Patient.objects.get().given_name == "Anita"  # no other case uses the row: it stays current
    assert AuditEvent.objects.filter(action="patient.identity_update").exists()


def test_a_version_used_by_a_submitted_case_cannot_be_saved(submitted):
    identity = submitted.identity
    identity.family_name = "Changed"
    with pytest.raises(IdentityLocked):
        identity.save()


def test_bad_patient_details_change_nothing(network, patient_user, draft_case):
    count = PatientIdentity.objects.count()
    with pytest.raises(ValidationFailed):
        services.update_case(actor=patient_user, case=draft_case,
                             data={"patient": {**PATIENT, "birth_date": "not a date"}})
    assert PatientIdentity.objects.count() == count


def test_licensure_follows_the_case_identity_state(network, patient_user, walker, draft_case, specialist):
    """The specialist is licensed in CA only: an edit of another draft to NY does not move the triaged case."""
    triaged = walker.walk_to(draft_case, "triaged")
    assert matching.ineligibility(triaged, specialist.pk) is None
    other = make_draft(network, patient_user)
    services.update_case(actor=patient_user, case=other, data={"patient": {**PATIENT, "state": "NY"}})
    triaged.refresh_from_db()
    assert triaged.identity.state == "CA"
    assert matching.ineligibility(triaged, specialist.pk) is None
    ny_only = make_specialist(network, specialty="cardiology", states=("NY",), languages=("es", "en"))
    assert matching.ineligibility(triaged, ny_only.pk) is not None


def test_api_shows_the_case_identity_under_the_patient(api_client_for, network, patient_user, submitted):
    draft = make_draft(network, patient_user)
    services.update_case(actor=patient_user, case=draft, data={"patient": {**PATIENT, "family_name": "Ruiz"}})
    client = api_client_for(patient_user)
    old = client.get(f"/api/v1/cases/{submitted.pk}/").json()
    new = client.get(f"/api/v1/cases/{draft.pk}/").json()
    assert old["patient"]["id"] == new["patient"]["id"] == str(submitted.patient_id)
    assert old["patient"]["family_name"] != "Ruiz" and new["patient"]["family_name"] == "Ruiz"
    assert (old["identity"]["version"], new["identity"]["version"]) == (1, 2)
    assert new["patient_name"].endswith("Ruiz")


def test_the_case_page_shows_the_identity_version(client, network, patient_user, submitted):
    draft = make_draft(network, patient_user)
    services.update_case(actor=patient_user, case=draft, data={"patient": {**PATIENT, "family_name": "Ruiz"}})
    client.force_login(patient_user)
    body = client.get(f"/cases/{draft.pk}/").content.decode()
    assert 'id="identity-history"' in body and "Ruiz" in body
    old = client.get(f"/cases/{submitted.pk}/").content.decode()
    assert "Ruiz" not in old


@pytest.fixture
def api_client_for():
    from rest_framework.test import APIClient

    from ..factories import api_token

    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
        return client
    return make


# --- clinical free text encrypted at rest (#10 finding 7, the case's part) -----------------------------------

def test_clinical_free_text_is_sealed_in_the_database(network, patient_user, django_capture_on_commit_callbacks):
    from django.db import connection

    case = services.create_case(actor=patient_user, network=network, data={
        "patient": PATIENT, "questions": ["Is a lumpectomy enough?"], "diagnosis_text": "breast cancer",
        "proposed_treatment": "mastectomy", "clinical_summary": "lump in the left breast"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT diagnosis_text, proposed_treatment, clinical_summary FROM cases_case WHERE id = %s",
                       [case.pk.hex])
        row = cursor.fetchone()
        cursor.execute("SELECT text FROM cases_casequestion WHERE case_id = %s", [case.pk.hex])
        question = cursor.fetchone()[0]
    assert all(value.startswith("enc1:") for value in (*row, question))
    assert "breast" not in " ".join((*row, question))
    case.refresh_from_db()
    assert (case.diagnosis_text, case.questions.get().text) == ("breast cancer", "Is a lumpectomy enough?")


def test_the_migration_seals_text_written_in_the_clear(draft_case):
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("konsil.cases.migrations.0007_encrypted_clinical_text")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cases_case SET clinical_summary = %s WHERE id = %s", ["in the clear", draft_case.pk.hex])
    migration.seal_existing(apps, None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT clinical_summary FROM cases_case WHERE id = %s", [draft_case.pk.hex])
        assert cursor.fetchone()[0].startswith("enc1:")
    draft_case.refresh_from_db()
    assert draft_case.clinical_summary == "in the clear"
