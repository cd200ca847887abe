"""'Who accessed my data' in words: grouped by case, day and person; 300 image views are one line."""

from __future__ import annotations

from konsil.audit.services import emit, emit_many

from .conftest import url


def test_many_reads_collapse_into_one_line(client, login, coordinator, patient_user, walker, draft_case):
    case = walker.walk_to(draft_case, "submitted")
    login(client, coordinator)
    for _ in range(3):
        client.get(url("cases:detail", pk=case.pk))
    emit_many(actor=coordinator, events=[
        {"action": "record.preview", "object_type": "cases.case", "object_id": str(case.pk),
         "patient_id": case.patient_id} for _ in range(300)])
    client.force_login(patient_user)
    body = client.get(url("audit:my_access")).content.decode()
    assert "opened your case 3 times" in body
    assert "viewed 300 pages of your documents" in body
    assert body.count("viewed 300 pages") == 1
    assert f"Case {case.reference}" in body


def test_a_refused_access_is_said_so(client, coordinator, patient_user, draft_case):
    emit(actor=coordinator, action="case.read", obj=draft_case, patient_id=draft_case.patient_id, outcome="denied")
    client.force_login(patient_user)
    body = client.get(url("audit:my_access")).content.decode()
    assert "tried to access your data and was refused" in body


def test_own_reads_say_you(client, patient_user, draft_case):
    client.force_login(patient_user)
    client.get(url("cases:detail", pk=draft_case.pk))
    body = client.get(url("audit:my_access")).content.decode()
    assert "You opened your case" in body


def test_an_automatic_step_is_konsil_without_a_role_code(client, patient_user, draft_case):
    """Triage choosing a specialty as the system reads "Konsil (automatic)", not "..., system, ...": in Spanish too."""
    from django.conf import settings

    emit(actor="routing", action="case.triage", obj=draft_case, patient_id=draft_case.patient_id, role="system")
    client.force_login(patient_user)
    body = client.get(url("audit:my_access")).content.decode()
    assert "Konsil (automatic)" in body and ", system," not in body
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    body = client.get(url("audit:my_access")).content.decode()
    assert "Konsil (automático)" in body and ", system," not in body


def test_specialist_is_named_by_specialty(client, specialist, patient_user, draft_case):
    emit(actor=specialist.user, action="case.read", obj=draft_case, patient_id=draft_case.patient_id)
    client.force_login(patient_user)
    body = client.get(url("audit:my_access")).content.decode()
    assert "specialist in Cardiology, opened your case" in body


def test_case_moves_are_said_as_what_happened(client, patient_user, walker, draft_case):
    case = walker.walk_to(draft_case, "offered")
    client.force_login(patient_user)
    body = client.get(url("audit:my_access")).content.decode()
    assert "You sent your request" in body and "offered your case to a specialist" in body
    assert "case.offer" not in body and "offer to specialist" not in body.lower().replace("offered", "")
    assert f"Case {case.reference}" in body


def test_hundreds_of_image_frames_are_one_line_naming_the_study(client, specialist, patient_user, draft_case):
    from konsil.records.models import Instance

    from ..records.records_support import ct, ingest, zip_bytes

    ingest(draft_case, patient_user, zip_bytes({f"IM{i}": d for i, d in enumerate(ct(3, size=16))}), "ct.zip")
    instances = list(Instance.objects.filter(series__study__case=draft_case))
    assert len(instances) == 3
    emit_many(actor=specialist.user, events=[
        {"action": "imaging.frame", "object_type": "records.instance", "object_id": str(instances[i % 3].pk),
         "patient_id": draft_case.patient_id, "detail": {"frame": 0}} for i in range(300)])
    client.force_login(patient_user)
    body = client.get(url("audit:my_access")).content.decode()
    line = f"Dr. {specialist.user.get_full_name()}, specialist in Cardiology, viewed 300 images of your CT scan"
    assert body.count(line) == 1


def test_code_suggestions_are_konsil_s_even_when_the_patient_s_edit_set_them_off(client, patient_user, draft_case):
    """The trail keeps the patient as the one whose words were read; the log does not say "You suggested"."""
    emit(actor=patient_user, action="case.code_suggest", obj=draft_case, patient_id=draft_case.patient_id,
         detail={"added": 1, "removed": 0})
    client.force_login(patient_user)
    body = client.get(url("audit:my_access")).content.decode()
    assert "Konsil (automatic)" in body and "suggested diagnosis codes for your case" in body
    assert "You suggested" not in body


def test_a_shared_report_s_reader_is_the_physician_it_was_shared_with(client, patient_user, draft_case):
    emit(actor="share:dr.lee@hospital.example", action="report.read_shared", obj=draft_case,
         patient_id=draft_case.patient_id)
    client.force_login(patient_user)
    body = client.get(url("audit:my_access")).content.decode()
    assert "share:" not in body
    assert "dr.lee@hospital.example, through the link you shared, opened the report" in body
