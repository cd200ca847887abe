"""FHIR R4 import: parsing, rejection codes, the clinical summary, and the 60 Synthea bundles."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import random
from pathlib import Path

import pytest

from konsil.records import fhir, fhir_extract
from konsil.records.errors import RecordRejected

SYNTHEA = Path("/work/shared/data/synthea")
SYNTHEA_FILES = sorted(SYNTHEA.glob("*.json.gz")) if SYNTHEA.is_dir() else []
needs_synthea = pytest.mark.skipif(not SYNTHEA_FILES, reason="Synthea sample bundles not in /work/shared/data")

SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def bundle(*resources: dict, kind: str = "collection") -> dict:
    return {"resourceType": "Bundle", "type": kind,
            "entry": [{"fullUrl": f"urn:uuid:{r.get('id', i)}", "resource": r} for i, r in enumerate(resources)]}


def dumps(value) -> bytes:
    return json.dumps(value).encode()


def concept(code: str, display: str | None = None, system: str = SNOMED, text: str | None = None) -> dict:
    coding = {"system": system, "code": code} | ({"display": display} if display else {})
    return {"coding": [coding]} | ({"text": text} if text else {})


def quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"use": "official", "family": "Doe", "given": ["Jane"]}],
           "gender": "female", "birthDate": "1970-02-03", "deceasedBoolean": False,
           "address": [{"use": "home", "state": "MA"}],
           "communication": [{"language": concept("es", "Spanish", "urn:ietf:bcp:47"), "preferred": True}]}
HYPERTENSION = {"resourceType": "Condition", "id": "c1", "clinicalStatus": concept("active", system="x"),
                "code": {"coding": [{"system": ICD10, "code": "I10", "display": "Essential hypertension"},
                                    {"system": SNOMED, "code": "38341003", "display": "Hypertensive disorder"}]},
                "onsetDateTime": "2015-04-01"}
SINUSITIS = {"resourceType": "Condition", "id": "c2", "clinicalStatus": concept("resolved", system="x"),
             "code": concept("444814009", "Viral sinusitis"), "onsetDateTime": "2018-01-05",
             "abatementDateTime": "2018-01-20"}
LISINOPRIL = {"resourceType": "Medication", "id": "m1",
              "code": concept("314076", "Lisinopril 10 MG Oral Tablet", "http://www.nlm.nih.gov/research/umls/rxnorm")}
MED_REQUEST = {"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "intent": "order",
               "medicationReference": {"reference": "urn:uuid:m1"}, "authoredOn": "2015-04-02",
               "dosageInstruction": [{"text": "1 tablet daily"}], "reasonReference": [{"reference": "Condition/c1"}]}
ALLERGY = {"resourceType": "AllergyIntolerance", "id": "a1", "clinicalStatus": concept("active", system="x"),
           "criticality": "high", "code": concept("7980", "Penicillin G", "rxnorm"),
           "reaction": [{"manifestation": [concept("271807003", "Skin rash")], "severity": "moderate"}],
           "recordedDate": "2001-01-01"}
ORG = {"resourceType": "Organization", "id": "o1", "name": "General Hospital"}
ENCOUNTER = {"resourceType": "Encounter", "id": "e1", "status": "finished",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
             "type": [concept("185349003", "Check up")], "period": {"start": "2020-05-01T10:00:00Z"},
             "reasonCode": [concept("38341003", "Hypertensive disorder")],
             "serviceProvider": {"reference": "Organization/o1"}}


def observation(oid: str, code: str, display: str, date: str, value: float | None = 5.0, unit: str = "mmol/L",
                category: str = "laboratory") -> dict:
    resource = {"resourceType": "Observation", "id": oid, "status": "final", "effectiveDateTime": date,
                "category": [concept(category, system="http://terminology.hl7.org/CodeSystem/observation-category")],
                "code": concept(code, display, LOINC)}
    if value is not None:
        resource["valueQuantity"] = quantity(value, unit)
    return resource


def blood_pressure(oid: str, date: str, systolic: float, diastolic: float) -> dict:
    resource = observation(oid, "85354-9", "Blood pressure panel", date, value=None, category="vital-signs")
    resource["component"] = [
        {"code": concept("8480-6", "Systolic blood pressure", LOINC), "valueQuantity": quantity(systolic, "mm[Hg]")},
        {"code": concept("8462-4", "Diastolic blood pressure", LOINC), "valueQuantity": quantity(diastolic, "mm[Hg]")},
    ]
    return resource


NOTE_TEXT = "Patient seen for blood pressure follow-up. " * 200
NOTE = {"resourceType": "DocumentReference", "id": "d1", "status": "current",
        "type": concept("34117-2", "H&P note", LOINC), "date": "2020-05-01T10:30:00Z",
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": b64(NOTE_TEXT)}},
                    {"attachment": {"contentType": "application/pdf", "data": b64("%PDF-1.4 not decoded")}}]}
REPORT = {"resourceType": "DiagnosticReport", "id": "r1", "status": "final",
          "code": concept("24627-2", "Chest CT", LOINC), "effectiveDateTime": "2019-03-01", "conclusion": "No nodules.",
          "presentedForm": [{"contentType": "text/plain", "data": b64("Findings: clear lungs.")}]}
IMAGING = {"resourceType": "ImagingStudy", "id": "i1", "status": "available", "started": "2019-03-01T09:00:00Z",
           "numberOfSeries": 2, "numberOfInstances": 120, "description": "CT chest",
           "series": [{"modality": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"},
                       "bodySite": {"system": SNOMED, "code": "51185008", "display": "Chest"}}]}
PROCEDURE = {"resourceType": "Procedure", "id": "pr1", "status": "completed",
             "code": concept("73761001", "Colonoscopy"),
             "performedPeriod": {"start": "2017-06-01T08:00:00Z", "end": "2017-06-01T09:00:00Z"}}
IMMUNIZATION = {"resourceType": "Immunization", "id": "im1", "status": "completed",
                "vaccineCode": concept("140", "Influenza vaccine", "http://hl7.org/fhir/sid/cvx"),
                "occurrenceDateTime": "2020-10-01"}

RICH = [PATIENT, HYPERTENSION, SINUSITIS, LISINOPRIL, MED_REQUEST, ALLERGY, ORG, ENCOUNTER, NOTE, REPORT, IMAGING,
        PROCEDURE, IMMUNIZATION, observation("ob1", "2345-7", "Glucose", "2020-05-01", 6.1),
        blood_pressure("bp1", "2020-05-01T10:05:00Z", 121.6, 79.2)]


def rich_summary() -> fhir.ClinicalSummary:
    return fhir.summarize(fhir.parse(dumps(bundle(*copy.deepcopy(RICH)))))


# ---------------------------------------------------------------------------------------------- parse


def test_parse_returns_the_resource_and_accepts_a_byte_order_mark():
    assert fhir.parse(dumps(PATIENT)) == PATIENT
    assert fhir.parse(b"\xef\xbb\xbf" + dumps(PATIENT))["id"] == "p1"


@pytest.mark.parametrize("data", [b'{"resourceType": "Patient", "name": [{"family": "Doe"', b"not json at all",
                                  b"\xff\xfe\x00{", b'{"resourceType": "Patient"} trailing', b"[" * 100_000])
def test_invalid_json_is_rejected(data):
    with pytest.raises(RecordRejected) as caught:
        fhir.parse(data)
    assert caught.value.code == "fhir_invalid_json"
    assert "Doe" not in caught.value.detail


@pytest.mark.parametrize("value", [
    [PATIENT], "Patient", 42, None, {"id": "x"}, {"resourceType": 7}, {"resourceType": "  "},
    {"resourceType": "Bundle", "type": "collection", "entry": {"resource": PATIENT}},
    {"resourceType": "Bundle", "type": "collection", "entry": None},
])
def test_json_that_is_not_a_resource_is_rejected(value):
    with pytest.raises(RecordRejected) as caught:
        fhir.parse(dumps(value))
    assert caught.value.code == "fhir_invalid"
    assert "Doe" not in caught.value.detail


@pytest.mark.parametrize("data", [b"", b"  \n"])
def test_empty_file_is_rejected_as_empty(data):
    with pytest.raises(RecordRejected) as caught:
        fhir.parse(data)
    assert caught.value.code == "empty"


def test_summarize_rejects_what_parse_would_reject():
    with pytest.raises(RecordRejected) as caught:
        fhir.summarize({"resourceType": "Bundle", "entry": "nope"})
    assert caught.value.code == "fhir_invalid"


def test_bundle_without_entries_is_an_empty_summary():
    summary = fhir.summarize(fhir.parse(b'{"resourceType": "Bundle", "type": "searchset", "total": 0}'))
    assert summary.patient is None
    assert set(summary.counts.values()) == {0}
    assert summary.as_text() == ""


# ---------------------------------------------------------------------------------------------- bundles


@pytest.mark.parametrize("kind", ["collection", "transaction", "batch-response", "searchset", "document"])
def test_every_bundle_type_is_accepted(kind):
    summary = fhir.summarize(fhir.parse(dumps(bundle(PATIENT, HYPERTENSION, kind=kind))))
    assert summary.patient["gender"] == "female"
    assert [c["display"] for c in summary.conditions] == ["Essential hypertension"]


def test_batch_response_with_nested_searchset_bundles():
    searchset = bundle(HYPERTENSION, SINUSITIS, kind="searchset")
    response = {"resourceType": "Bundle", "type": "batch-response", "entry": [
        {"resource": searchset, "response": {"status": "200 OK"}},
        {"response": {"status": "404 Not Found"}},
        {"resource": {"resourceType": "OperationOutcome", "issue": []}},
    ]}
    summary = fhir.summarize(response)
    assert summary.counts["conditions"] == 2
    assert summary.ignored == {"OperationOutcome": 1}


def test_unknown_and_malformed_entries_are_counted_never_fatal():
    foo = {"resourceType": "FooBar", "id": "f1", "whatever": [1, 2]}
    basic = {"resourceType": "Basic", "id": "b1", "code": concept("x")}
    data = bundle(PATIENT, foo, basic, copy.deepcopy(basic), HYPERTENSION)
    data["entry"] += ["not an entry", {"resource": "not a resource"}, {"resource": {"id": "no-type"}}]
    summary = fhir.summarize(fhir.parse(dumps(data)))
    assert summary.ignored == {"FooBar": 1, "Basic": 2, "(no resourceType)": 2}
    assert summary.counts["conditions"] == 1
    assert summary.unreadable == {}


@pytest.mark.parametrize("resource, section", [
    (PATIENT, None), (observation("o9", "2345-7", "Glucose", "2021-01-01", 7.2, "mmol/L"), "observations"),
    (HYPERTENSION, "conditions"), (ALLERGY, "allergies"), (NOTE, "documents"),
])
def test_a_single_resource_gives_a_summary_with_that_item(resource, section):
    summary = fhir.summarize(fhir.parse(dumps(resource)))
    if section is None:
        assert summary.patient["name"] == "Jane Doe"
        assert sum(summary.counts.values()) == 1
    else:
        assert summary.counts[section] == 1
        assert getattr(summary, section)[0]["source"] == {"resourceType": resource["resourceType"],
                                                          "id": resource["id"]}
        assert summary.patient is None


# ---------------------------------------------------------------------------------------------- sections


def test_patient_fields():
    patient = rich_summary().patient
    assert patient == {"name": "Jane Doe", "gender": "female", "birth_date": "1970-02-03", "deceased": False,
                       "deceased_date": None, "state": "MA", "language": "Spanish", "language_code": "es",
                       "date": "1970-02-03", "source": {"resourceType": "Patient", "id": "p1"}}
    deceased = fhir.summarize({"resourceType": "Patient", "deceasedDateTime": "2020-01-01", "name": [{"text": "J D"}]})
    assert (deceased.patient["deceased"], deceased.patient["deceased_date"], deceased.patient["name"]) == \
        (True, "2020-01-01", "J D")


def test_conditions_statuses_and_code_lists():
    summary = rich_summary()
    by_id = {c["source"]["id"]: c for c in summary.conditions}
    assert by_id["c1"]["clinical_status"] == "active"
    assert by_id["c2"]["clinical_status"] == "resolved"
    assert by_id["c2"]["abatement"] == "2018-01-20"
    assert [c["source"]["id"] for c in summary.active_conditions] == ["c1"]
    assert summary.icd10_codes() == ["I10"]
    assert summary.snomed_codes() == ["444814009", "38341003"]  # conditions are newest first
    assert summary.snomed_codes(active_only=True) == ["38341003"]


def test_active_conditions_skip_errors_and_keep_unstated_unabated():
    unstated = {"resourceType": "Condition", "id": "u", "code": {"text": "Back pain"}}
    error = {"resourceType": "Condition", "id": "e", "code": {"text": "Wrong"}, "clinicalStatus": "active",
             "verificationStatus": concept("entered-in-error", system="x")}
    ended = {"resourceType": "Condition", "id": "a", "code": {"text": "Old"}, "abatementDateTime": "2001-01-01"}
    summary = fhir.summarize(bundle(unstated, error, ended))
    assert [c["display"] for c in summary.active_conditions] == ["Back pain"]


def test_medication_name_resolved_from_referenced_medication():
    medication = rich_summary().medications[0]
    assert medication["name"] == "Lisinopril 10 MG Oral Tablet"
    assert medication["codes"][0]["code"] == "314076"
    assert (medication["status"], medication["authored"], medication["dosage"]) == \
        ("active", "2015-04-02", "1 tablet daily")
    assert medication["reasons"] == ["Essential hypertension"]


def test_medication_reference_forms_contained_relative_and_display():
    contained = {"resourceType": "MedicationStatement", "id": "ms1", "status": "active",
                 "contained": [{"resourceType": "Medication", "id": "med", "code": {"text": "Metformin 500 mg"}}],
                 "medicationReference": {"reference": "#med"}, "effectiveDateTime": "2019-02-02",
                 "dosage": [{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                             "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}]}
    relative = {"resourceType": "MedicationRequest", "id": "mr2", "status": "stopped",
                "medicationReference": {"reference": "Medication/m2"}, "authoredOn": "2010-01-01"}
    absolute = {"resourceType": "Medication", "id": "m2", "code": concept("1", "Aspirin 81 MG")}
    display_only = {"resourceType": "MedicationRequest", "id": "mr3",
                    "medicationReference": {"reference": "Medication/elsewhere", "display": "Warfarin"}}
    data = bundle(contained, relative, display_only)
    data["entry"].append({"fullUrl": "https://ehr.example/fhir/Medication/m2", "resource": absolute})
    names = {m["source"]["id"]: m for m in fhir.summarize(data).medications}
    assert names["ms1"]["name"] == "Metformin 500 mg"
    assert names["ms1"]["kind"] == "statement"
    assert names["ms1"]["dosage"] == "1 tablet, 2 per 1 d"
    assert names["mr2"]["name"] == "Aspirin 81 MG"
    assert names["mr3"]["name"] == "Warfarin"


def test_observations_values_units_and_blood_pressure():
    obs = {o["source"]["id"]: o for o in rich_summary().observations}
    assert (obs["ob1"]["value"], obs["ob1"]["number"], obs["ob1"]["unit"], obs["ob1"]["code"]) == \
        ("6.1 mmol/L", 6.1, "mmol/L", "2345-7")
    assert obs["ob1"]["category"] == "laboratory"
    bp = obs["bp1"]
    assert bp["value"] == "122/79 mmHg"
    assert bp["category"] == "vital-signs"
    assert {c["code"]: c["number"] for c in bp["components"]} == {"8480-6": 121.6, "8462-4": 79.2}


def test_observation_concept_string_and_absent_values():
    smoker = observation("s", "72166-2", "Tobacco smoking status", "2020-01-01", value=None, category="survey")
    smoker["valueCodeableConcept"] = concept("266919005", "Never smoker")
    comment = observation("t", "8251-1", "Service comment", "2020-01-01", value=None)
    comment["valueString"] = "Hemolysed sample"
    missing = observation("m", "2345-7", "Glucose", "2020-01-01", value=None)
    missing["dataAbsentReason"] = concept("not-performed", "Not Performed", "x")
    values = {o["source"]["id"]: o["value"] for o in fhir.summarize(bundle(smoker, comment, missing)).observations}
    assert values == {"s": "Never smoker", "t": "Hemolysed sample", "m": "absent: Not Performed"}


def test_observations_keep_the_latest_n_per_code_newest_first():
    glucose = [observation(f"g{year}", "2345-7", "Glucose", f"{year}-06-01", float(year - 2000))
               for year in (2012, 2016, 2014, 2019, 2011)]
    a1c = [observation("h1", "4548-4", "Hemoglobin A1c", "2018-01-01T00:00:00+05:00", 6.5, "%")]
    summary = fhir.summarize(bundle(*glucose, *a1c))
    assert [o["source"]["id"] for o in summary.observations] == ["g2019", "h1", "g2016", "g2014"]
    two = fhir.summarize(bundle(*glucose), observations_per_code=2)
    assert [o["source"]["id"] for o in two.observations] == ["g2019", "g2016"]


def test_allergy_encounter_procedure_immunization_imaging():
    summary = rich_summary()
    allergy = summary.allergies[0]
    assert (allergy["substance"], allergy["criticality"], allergy["reactions"], allergy["status"]) == \
        ("Penicillin G", "high", ["Skin rash"], "active")
    encounter = summary.encounters[0]
    assert (encounter["type"], encounter["class"], encounter["provider"], encounter["reasons"]) == \
        ("Check up", "AMB", "General Hospital", ["Hypertensive disorder"])
    assert summary.procedures[0]["date"] == "2017-06-01T08:00:00Z"
    assert summary.immunizations[0]["vaccine"] == "Influenza vaccine"
    study = summary.imaging_studies[0]
    assert (study["modalities"], study["body_sites"], study["series_count"], study["instance_count"]) == \
        (["CT"], ["Chest"], 2, 120)


def test_document_and_report_text_decoded_and_truncated():
    summary = rich_summary()
    note = summary.documents[0]
    assert note["type"] == "H&P note"
    assert note["text"].startswith("Patient seen for blood pressure follow-up.")
    assert len(note["text"]) == fhir_extract.ATTACHMENT_TEXT_LIMIT
    assert note["text_length"] == len(NOTE_TEXT.strip())
    assert note["text_truncated"] is True
    assert "%PDF" not in note["text"]
    assert note["content_types"] == ["text/plain; charset=utf-8", "application/pdf"]
    report = summary.diagnostic_reports[0]
    assert (report["title"], report["conclusion"], report["text"]) == \
        ("Chest CT", "No nodules.", "Findings: clear lungs.")


def test_bad_base64_attachment_is_skipped():
    note = copy.deepcopy(NOTE)
    note["content"] = [{"attachment": {"contentType": "text/plain", "data": "@@@ not base64 é"}}]
    document = fhir.summarize(note).documents[0]
    assert (document["text"], document["text_length"]) == (None, 0)


# ---------------------------------------------------------------------------------------------- odd shapes


@pytest.mark.parametrize("resource, key, expected", [
    ({"resourceType": "Condition"}, "display", "Unnamed condition"),
    ({"resourceType": "Condition", "code": {"text": "Migraine"}}, "display", "Migraine"),
    ({"resourceType": "Condition", "code": {"coding": [{"system": SNOMED, "code": "37796009"}], "text": "Migraine"}},
     "display", "Migraine"),
    ({"resourceType": "Condition", "code": {"coding": [{"system": SNOMED, "code": "37796009"}]}}, "display",
     "37796009"),
    ({"resourceType": "Condition", "code": {"coding": {"code": "G43", "display": "Migraine"}}}, "display", "Migraine"),
    ({"resourceType": "Condition", "code": [{"text": "Listed"}], "clinicalStatus": "active"}, "display", "Listed"),
    ({"resourceType": "Observation", "code": "glucose", "valueQuantity": {"value": "high"}}, "value", "high"),
    ({"resourceType": "Observation", "code": {}, "valueQuantity": {"unit": "mg"}}, "value", None),
    ({"resourceType": "Observation", "component": [{"code": None, "valueString": "x"}]}, "value", "Component: x"),
    ({"resourceType": "MedicationRequest", "medicationCodeableConcept": {"text": "Aspirin"},
      "dosageInstruction": {"text": "daily"}}, "dosage", "daily"),
    ({"resourceType": "MedicationStatement", "medicationReference": "Medication/1"}, "name", "Unnamed medication"),
    ({"resourceType": "Encounter", "class": [{"code": "IMP"}], "period": "2020"}, "type", "IMP"),
    ({"resourceType": "ImagingStudy", "series": [{"instance": [{}, {}]}, "junk"]}, "instance_count", 2),
    ({"resourceType": "AllergyIntolerance", "reaction": [{"substance": {"text": "Peanut"}}]}, "substance", "Peanut"),
    ({"resourceType": "DocumentReference", "content": [{"attachment": None}, "x"]}, "text", None),
    ({"resourceType": "Procedure", "performedDateTime": 20200101}, "date", "20200101"),
])
def test_odd_shapes_fall_back_without_crashing(resource, key, expected):
    summary = fhir.summarize(resource)
    section = fhir.EXTRACTORS[resource["resourceType"]][0]
    assert getattr(summary, section)[0][key] == expected
    assert summary.unreadable == {}
    summary.as_text()
    summary.timeline()


ODD_VALUES = [None, 0, -1.5, True, "", "x", "2020-13-45", [], {}, [None], ["x"], [{}], {"coding": "x"},
              {"coding": [None, "x", {"display": 3, "code": []}]}, {"start": 5, "end": None}, {"reference": 7},
              {"reference": "#missing"}, {"value": float("inf"), "unit": ["mg"]}, [[{"text": {}}]]]


def _mutate(value, rng: random.Random, top: bool = False):
    if not top and rng.random() < 0.15:
        return copy.deepcopy(rng.choice(ODD_VALUES))
    if isinstance(value, dict):
        return {k: (v if k == "resourceType" else _mutate(v, rng)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(v, rng) for v in value]
    return value


def test_randomly_mangled_resources_never_break_the_import():
    rng = random.Random(20240501)
    for _ in range(300):
        mangled = bundle(*(_mutate(r, rng, top=True) for r in RICH))
        summary = fhir.summarize(mangled)
        assert summary.unreadable == {}, summary.unreadable
        summary.timeline()
        summary.as_text()
        summary.icd10_codes()
        json.dumps(summary.to_dict())


# ---------------------------------------------------------------------------------------------- outputs


def test_counts_timeline_and_round_trip():
    summary = rich_summary()
    assert summary.counts == {"patients": 1, "conditions": 2, "medications": 1, "procedures": 1, "allergies": 1,
                              "observations": 2, "immunizations": 1, "encounters": 1, "imaging_studies": 1,
                              "diagnostic_reports": 1, "documents": 1}
    assert summary.ignored == {"Medication": 1, "Organization": 1}
    timeline = summary.timeline()
    dates = [fhir.sort_key(entry.date) for entry in timeline]
    assert dates == sorted(dates, reverse=True)
    assert (timeline[0].kind, timeline[1].kind) == ("immunization", "document")
    date, kind, label, source = timeline[-1]
    assert (kind, label, source) == ("allergy", "Penicillin G", {"resourceType": "AllergyIntolerance", "id": "a1"})
    assert ("observation", "Blood pressure panel: 122/79 mmHg") in [(e.kind, e.label) for e in timeline]
    stored = json.loads(json.dumps(summary.to_dict()))
    assert stored["counts"] == summary.counts
    assert fhir.ClinicalSummary.from_dict(stored) == summary
    assert fhir.ClinicalSummary.from_dict({"schema": 1}) == fhir.ClinicalSummary()


def test_as_text_lists_problems_and_medications_without_identity_and_is_capped():
    text = rich_summary().as_text()
    assert "Active problems:\n- Essential hypertension [I10, 38341003] since 2015-04-01" in text
    assert "Lisinopril 10 MG Oral Tablet (active, 1 tablet daily) since 2015-04-02 for Essential hypertension" in text
    assert "Penicillin G (criticality high; active; Skin rash)" in text
    assert "Blood pressure panel: 122/79 mmHg" in text
    assert "Viral sinusitis" in text.split("Past problems:")[1]
    assert "Notes (excerpts):" in text
    assert "Jane" not in text and "Doe" not in text and "MA" not in text.split()
    assert text.index("Active problems") < text.index("Current medications") < text.index("Allergies")
    many = [dict(observation(f"n{i}", f"code-{i}", f"Analyte {i}", "2020-01-01", i)) for i in range(3000)]
    capped = fhir.summarize(bundle(PATIENT, HYPERTENSION, *many)).as_text()
    assert len(capped) <= fhir.AS_TEXT_LIMIT
    short = rich_summary().as_text(limit=300)
    assert len(short) <= 300 and short.endswith("[truncated]")
    assert "Essential hypertension" in short


# ---------------------------------------------------------------------------------------------- Synthea


def _load(path: Path) -> fhir.ClinicalSummary:
    return fhir.summarize(fhir.parse(gzip.decompress(path.read_bytes())))


@needs_synthea
def test_all_synthea_bundles_import_with_sane_counts():
    assert len(SYNTHEA_FILES) == 60
    summaries = [_load(path) for path in SYNTHEA_FILES]
    for summary in summaries:
        assert summary.patient and summary.patient["gender"] in {"male", "female"}
        assert summary.patient["birth_date"]
        assert summary.unreadable == {}
        assert summary.counts["encounters"] > 0
        assert any(o["unit"] for o in summary.observations)
        assert "Claim" in summary.ignored
        per_code = {}
        for obs in summary.observations:
            per_code[obs["code"]] = per_code.get(obs["code"], 0) + 1
        assert max(per_code.values()) <= fhir.OBSERVATIONS_PER_CODE
        assert fhir.ClinicalSummary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary
        assert len(summary.as_text()) <= fhir.AS_TEXT_LIMIT
    assert sum(bool(s.conditions) for s in summaries) == 60
    assert sum(bool(s.medications) for s in summaries) >= 50
    assert sum(s.patient["deceased"] for s in summaries) == 12


@needs_synthea
def test_one_synthea_bundle_checked_by_hand():
    summary = _load(next(p for p in SYNTHEA_FILES if p.name.startswith("Fidel_Bins")))
    assert summary.patient["state"] == "Massachusetts"
    assert summary.patient["language"] == "English"
    assert [c["display"] for c in summary.active_conditions] == [
        "Asthma", "Body mass index 30+ - obesity (finding)", "Perennial allergic rhinitis with seasonal variation"]
    assert "195967001" in summary.snomed_codes() and summary.icd10_codes() == []
    pharyngitis = next(c for c in summary.conditions if c["display"] == "Acute viral pharyngitis (disorder)")
    assert (pharyngitis["clinical_status"], pharyngitis["abatement"]) == ("resolved", "2015-03-15T03:39:04+00:00")
    cholesterol = [o for o in summary.observations if o["code"] == "2093-3"]
    assert [(o["value"], o["date"][:10]) for o in cholesterol] == [
        ("182.44 mg/dL", "2019-03-25"), ("199.9 mg/dL", "2015-03-16"), ("166.38 mg/dL", "2011-11-14")]
    latest_bp = next(o for o in summary.observations if o["code"] == "55284-4")
    assert (latest_bp["value"], latest_bp["date"][:10]) == ("105/82 mmHg", "2021-03-29")
    assert {c["code"]: round(c["number"], 1) for c in latest_bp["components"]} == {"8480-6": 104.7, "8462-4": 82.4}
    inhaler = next(m for m in summary.medications if "Albuterol" in m["name"])
    assert (inhaler["status"], inhaler["dosage"], inhaler["reasons"]) == ("active", "as needed", ["Asthma"])
    assert {a["substance"] for a in summary.allergies} >= {"Latex allergy", "Allergy to nut"}
    assert summary.encounters[0]["provider"] == "LAWRENCE GENERAL HOSPITAL"
    text = summary.as_text()
    assert "- Asthma [195967001]" in text and "Albuterol" in text and "Fidel" not in text
