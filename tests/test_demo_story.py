"""Each demo case tells one consistent story (#9): the TAVR case (K-DEMO06) carries a chest CT and a FHIR record of
its own patient, with the aortic stenosis it is about; none of its records is flagged as another person's."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from konsil import demo
from konsil.cases.models import Attachment, Case
from konsil.demo import records as demo_records
from konsil.records.models import Study

pytestmark = pytest.mark.slow


def test_the_tavr_case_has_a_chest_ct_and_its_own_patients_fhir_record(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed_demo()  # the records are processed once the seed commits
    case = Case.objects.get(reference="K-DEMO06")
    assert "TAVR" in case.questions.first().text
    study = Study.objects.get(case=case)
    assert "chest" in study.description.lower() and "TAVR" in study.description
    assert [s.body_part for s in study.series.all()] == ["CHEST"]
    flagged = [(a.case.reference, a.filename) for a in Attachment.objects.filter(case__reference__startswith="K-DEMO")
               if (a.detail or {}).get("identity", {}).get("status") == "mismatch"]
    assert flagged == []  # every demo document is its own patient's
    echo = next(a for a in case.attachments.all() if a.filename == "echocardiogram-report.txt")
    assert echo.description == "Echocardiogram report" and echo.status == "ready"
    record = next(a for a in case.attachments.all() if a.filename == "health-record.json")
    assert record.status == "ready", record.detail


def test_the_fhir_record_is_the_patients_own_with_the_case_condition(db):
    from konsil.cases.models import Patient

    patient = Patient(given_name="Rosa", family_name="Ejemplo", sex="female", state="CA",
                      birth_date=dt.date(1968, 4, 12))
    bundle = json.loads(demo_records._own_fhir_record(patient))
    people = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert people[0]["name"][0]["family"] == "Ejemplo" and people[0]["birthDate"] == "1968-04-12"
    assert people[0]["gender"] == "female"
    text = json.dumps(bundle)
    assert "Desmond" not in text and "Gutmann" not in text and "Massachusetts" not in text
    conditions = [e["resource"]["code"]["text"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "Condition"]
    assert "Aortic valve stenosis" in conditions
