"""What the resources return: filters, the directory, opinion versions, amendments, notifications."""

from __future__ import annotations

from konsil.audit.models import AuditEvent

from ..factories import make_draft, make_specialist
from .conftest import API


def test_case_list_filters(api, network, patient_user, walker, draft_case):
    urgent = make_draft(network, patient_user, urgency="urgent")
    walker.walk_to(draft_case, "submitted")
    client = api(patient_user)

    def ids(query=""):
        return [c["id"] for c in client.get(f"{API}/cases/{query}").json()["results"]]

    assert set(ids()) == {str(draft_case.pk), str(urgent.pk)}
    assert ids("?status=submitted") == [str(draft_case.pk)]
    assert ids("?urgency=urgent") == [str(urgent.pk)]
    assert ids("?status=closed") == []
    # Only the cases shown are recorded as listed.
    listed = AuditEvent.objects.filter(actor=patient_user, action="case.list")
    assert listed.filter(object_id=str(urgent.pk)).count() == 2
    assert listed.filter(object_id=str(draft_case.pk)).count() == 2


def test_directory_filters(api, network, coordinator, specialist):
    oncologist = make_specialist(network, specialty="medical_oncology", states=("NY",), languages=("ja",))
    client = api(coordinator)

    def ids(query):
        response = client.get(f"{API}/specialists/?{query}")
        assert response.status_code == 200, response.content
        return [s["id"] for s in response.json()["results"]]

    assert set(ids("")) == {str(specialist.pk), str(oncologist.pk)}
    assert ids("specialty=cardiology") == [str(specialist.pk)]
    assert ids("state=ny") == [str(oncologist.pk)]
    assert ids("language=es") == [str(specialist.pk)]
    assert ids("language=ja&state=CA") == []
    first = client.get(f"{API}/specialists/?specialty=cardiology").json()["results"][0]
    assert first["specialties"][0]["code"] == "cardiology" and first["licenses"][0]["state"] == "CA"


def test_specialty_catalog(api, patient_user):
    catalog = api(patient_user).get(f"{API}/specialties/").json()
    codes = {s["code"] for s in catalog}
    assert {"cardiology", "medical_oncology"} <= codes and len(catalog) >= 20


def test_triage_is_404_until_proposed_and_candidates_are_ranked(api, walker, draft_case, coordinator,
                                                                 specialist):
    case = walker.walk_to(draft_case, "triaged")
    client = api(coordinator)
    assert client.get(f"{API}/cases/{case.pk}/triage/").status_code == 404
    ranked = client.get(f"{API}/cases/{case.pk}/candidates/").json()
    assert [r["specialist"]["id"] for r in ranked] == [str(specialist.pk)]
    assert ranked[0]["score"] > 0 and any("CA" in reason for reason in ranked[0]["reasons"])


def test_drafts_are_for_their_author_only(api, walker, draft_case, specialist, patient_user, coordinator):
    case = walker.walk_to(draft_case, "in_review")
    doctor = api(specialist.user)
    assert doctor.get(f"{API}/cases/{case.pk}/opinion/").status_code == 404  # nothing written yet
    doctor.patch(f"{API}/cases/{case.pk}/opinion/", {"narrative": "Working notes"}, format="json")
    assert doctor.get(f"{API}/cases/{case.pk}/opinion/").json()["narrative"] == "Working notes"
    for other in (patient_user, coordinator):
        assert api(other).get(f"{API}/cases/{case.pk}/opinion/").status_code == 403
        assert api(other).get(f"{API}/cases/{case.pk}/opinions/").json() == []
    denied = AuditEvent.objects.filter(actor=patient_user, action="opinion.read", outcome="denied")
    assert denied.exists()


def test_amendment_over_the_api_makes_a_new_signed_version(api, walker, draft_case, specialist, patient_user):
    case = walker.walk_to(draft_case, "delivered")
    response = api(specialist.user).post(f"{API}/cases/{case.pk}/transitions/", {
        "action": "amend", "reason": "Typo in the recommendation",
        "opinion": {"treatment_recommendation": "Medication first; review in 3 months."}}, format="json")
    assert response.status_code == 200, response.content
    versions = api(patient_user).get(f"{API}/cases/{case.pk}/opinions/").json()
    assert [(v["version"], v["amendment_reason"]) for v in versions] == [
        (2, "Typo in the recommendation"), (1, "")]
    assert all(v["signature_valid"] for v in versions)
    response = api(specialist.user).post(f"{API}/cases/{case.pk}/transitions/", {
        "action": "amend", "reason": "x", "opinion": "not an object"}, format="json")
    assert response.status_code == 400 and "opinion" in response.json()["errors"]


def test_notification_texts_and_marking(api, walker, draft_case, patient_user):
    walker.walk_to(draft_case, "triaged")
    client = api(patient_user)
    notes = client.get(f"{API}/notifications/").json()["results"]
    assert notes and all(draft_case.reference in n["text"] for n in notes)
    first = notes[0]["id"]
    assert client.post(f"{API}/notifications/read/", {"ids": [first]}, format="json").json() == {"marked": 1}
    notes = {n["id"]: n for n in client.get(f"{API}/notifications/").json()["results"]}
    assert notes[first]["read_at"]


def test_allowed_actions_follow_the_caller(api, walker, draft_case, coordinator, patient_user):
    case = walker.walk_to(draft_case, "submitted")
    url = f"{API}/cases/{case.pk}/"
    coordinator_actions = [a["action"] for a in api(coordinator).get(url).json()["allowed_actions"]]
    patient_actions = [a["action"] for a in api(patient_user).get(url).json()["allowed_actions"]]
    assert coordinator_actions == ["triage", "cancel"]
    assert patient_actions == ["withdraw"]
    triage = next(a for a in api(coordinator).get(url).json()["allowed_actions"] if a["action"] == "triage")
    assert triage["params"] == ["specialty", "urgency", "reason"]


def test_case_list_reads_only_what_it_shows(api, network, patient_user, walker, draft_case):
    """Each summary field as the case holds it; no clinical column (encrypted, decrypted on load) is read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    walker.walk_to(draft_case, "submitted")
    with CaptureQueriesContext(connection) as queries:
        response = api(patient_user).get(f"{API}/cases/")
    assert response.status_code == 200
    (row,) = response.json()["results"]
    case = type(draft_case).objects.get(pk=draft_case.pk)
    assert row == {
        "id": str(case.pk), "reference": case.reference, "status": "submitted", "status_display": "Submitted",
        "urgency": case.urgency, "channel": case.channel, "patient_name": case.patient.full_name,
        "specialty": case.specialty_id, "created_at": row["created_at"], "submitted_at": row["submitted_at"],
        "updated_at": row["updated_at"]}
    assert row["submitted_at"] and case.patient.full_name.strip()
    listing = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "cases_case"."id"')
               and "LIMIT" in q["sql"]]
    assert listing, [q["sql"][:80] for q in queries.captured_queries]
    for column in ("diagnosis_text", "clinical_summary", "proposed_treatment", '"cases_patient"."email"',
                   '"cases_patient"."birth_date"'):
        assert column not in listing[0], column


def test_a_created_case_answers_as_a_later_read_does(api, network, patient_user):
    """The create response shows the lists the request wrote (kept, not read back) exactly as a read shows them."""
    body = {"channel": "patient", "questions": ["Do I need a stent?", "What if I wait?"], "diagnoses": ["I25.10"],
            "clinical_summary": "Chest pain when I walk uphill, short of breath at night",
            "patient": {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
                        "state": "CA", "language": "es"}}
    created = api(patient_user).post(f"{API}/cases/", body, format="json")
    assert created.status_code == 201, created.json()
    read = api(patient_user).get(f"{API}/cases/{created.json()['id']}/").json()
    for key in ("questions", "diagnoses", "code_suggestions", "consent", "timeline"):
        assert created.json()[key] == read[key], key
    assert [q["text"] for q in read["questions"]] == body["questions"]
    assert [d["code"] for d in read["diagnoses"]] == ["I25.10"]
    assert read["code_suggestions"], "the words suggest codes"


def test_a_new_case_in_hand_stays_true_to_what_the_request_writes_next(network, patient_user):
    """A case created, edited and authorized in one request (as a FHIR referral is) shows, in hand, exactly what
    the database holds: the lists its create kept are replaced by the edit, the consent appears."""
    from konsil.cases import services
    from konsil.cases.models import Case

    case = services.create_case(actor=patient_user, network=network, data={
        "channel": "patient", "questions": ["Do I need a stent?"], "diagnoses": ["I25.10"],
        "proposed_treatment": "Coronary stent", "clinical_summary": "Chest pain walking uphill",
        "patient": {"given_name": "Ana", "family_name": "García", "birth_date": "1970-05-17", "sex": "female",
                    "state": "CA", "language": "en"}})
    services.update_case(actor=patient_user, case=case, data={"questions": ["Is surgery the only way?"],
                                                             "clinical_summary": "Short of breath at night"})
    services.sign_consent(actor=patient_user, case=case, scope=["obtain_records", "share_with_reviewers",
                                                                "share_report"], signer_name="Ana García")
    fresh = Case.objects.get(pk=case.pk)
    assert [q.text for q in case.questions.all()] == ["Is surgery the only way?"]
    for name in ("questions", "diagnoses", "code_suggestions"):
        assert [r.pk for r in getattr(case, name).all()] == [r.pk for r in getattr(fresh, name).all()], name
    assert case.consent.pk == fresh.consent.pk and case.consent.signer_name == "Ana García"
    submitted = services.transition(actor=patient_user, case=case, action="submit")
    assert [c.action for c in submitted.timeline.all()] == ["submit"]
