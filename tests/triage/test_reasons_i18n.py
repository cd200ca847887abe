"""Triage reasons stored as message keys and parameters and worded in each reader's language (issue #17): a
Spanish-speaking patient and an English coordinator read the same reason each in their own language; rows stored
as text before keep reading as stored."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation
from rest_framework.test import APIClient

from konsil.accounts.roles import Role
from konsil.cases.choices import Status
from konsil.cases.models import CaregiverAuthorization, Case
from konsil.triage import reasons
from konsil.triage.models import TriageProposal
from konsil.triage.services import propose
from tests.factories import api_token, make_user, set_identity

SPANISH = "Tengo el azúcar alta, mucha sed todo el tiempo y heridas que tardan en sanar."
JAPANESE = "糖尿病と言われました。喉がすごく渇くし、傷が治りにくいです。"


@pytest.fixture(autouse=True)
def _language_put_back():
    """A request with Accept-Language: es leaves Spanish active in this thread (LocaleMiddleware): put it back."""
    before = translation.get_language()
    yield
    translation.activate(before)


def _in(language: str, proposal) -> list[str]:
    with translation.override(language):
        return reasons.render(proposal)


@pytest.fixture
def spanish_case(draft_case):
    set_identity(draft_case, language="es")
    draft_case.questions.all().delete()
    draft_case.diagnoses.all().delete()
    draft_case.clinical_summary = SPANISH
    draft_case.proposed_treatment = ""
    draft_case.save()
    Case.objects.filter(pk=draft_case.pk).update(status=Status.SUBMITTED)
    draft_case.refresh_from_db()
    return draft_case


@pytest.mark.django_db
def test_a_proposal_keeps_keys_and_parameters_beside_the_text(spanish_case, settings):
    settings.LANGUAGE_CODE = "en"
    proposal = propose(case=spanish_case)
    assert proposal.reasons_data and len(proposal.reasons_data) == len(proposal.reasons)
    keys = [item["key"] for item in proposal.reasons_data]
    assert keys[0] == "model" and "concept" in keys
    concept = next(item["params"] for item in proposal.reasons_data if item["key"] == "concept")
    # language-neutral: a catalog code, a lexicon concept, ICD-10-CM codes, the patient's matched words
    assert concept["specialty"] == "endocrinology" and concept["concept"].startswith("diabetes")
    assert concept["codes"].startswith(("E", "R")) and concept["words"] == "el azúcar"  # as she wrote them, accent too
    assert all(isinstance(line, str) and not isinstance(line, reasons.Reason) for line in proposal.reasons)
    proposal.refresh_from_db()  # what the database gives back words the same text in the deployment's language
    assert _in("en", proposal) == proposal.reasons


@pytest.mark.django_db
def test_the_same_stored_reasons_read_in_english_spanish_and_japanese(spanish_case):
    proposal = propose(case=spanish_case)
    english, spanish, japanese = _in("en", proposal), _in("es", proposal), _in("ja", proposal)
    assert english[0].startswith("Most likely, from the patient's own words (Spanish): ")
    assert spanish[0].startswith("Lo más probable, según las propias palabras del paciente (Español): ")
    assert japanese[0].startswith("患者さん自身の言葉（スペイン語）から見て最も可能性が高い順: ")
    term = next(i["params"]["words"] for i in proposal.reasons_data if i["key"] == "concept")
    assert any(line.startswith(f"“{term}” understood as ") for line in english)
    assert any(line.startswith(f"«{term}»") and "understood" not in line for line in spanish)  # Spanish quotes
    assert any(f"「{term}」" in line and "understood" not in line for line in japanese)  # Japanese quotes
    assert len(english) == len(spanish) == len(japanese)


def test_the_patients_side_reads_their_words_and_the_specialty_without_keywords_or_codes():
    line = reasons.to_data(reasons.concept_line({
        "term": "radiation", "concept": "cancer_treatment", "specialty": "medical_oncology", "icd10": "Z51.1",
        "clinical": "chemotherapy radiation immunotherapy bone marrow biopsy"}))
    proposal = TriageProposal(reasons=["x"], reasons_data=[line], ranked=[], panel_roles=[], summary={},
                              checklist=[])
    care_team = _in("en", proposal)[0]
    assert care_team.startswith("“radiation” understood as chemotherapy") and "Z51.1" in care_team
    for language, quoted in (("en", "“radiation”: "), ("es", "«radiation»: "), ("ja", "「radiation」: ")):
        with translation.override(language):
            patient = reasons.render(proposal, keys=reasons.PATIENT_KEYS, for_patient=True)
        assert len(patient) == 1 and patient[0].startswith(quoted), patient
        assert "chemotherapy" not in patient[0] and "Z51.1" not in patient[0]
        assert "understood" not in patient[0]


@pytest.mark.django_db
def test_a_japanese_patients_words_read_in_english_for_the_coordinator(draft_case):
    set_identity(draft_case, language="ja")
    draft_case.questions.all().delete()
    draft_case.diagnoses.all().delete()
    draft_case.clinical_summary, draft_case.proposed_treatment = JAPANESE, ""
    draft_case.save()
    proposal = propose(case=draft_case)
    english, japanese = _in("en", proposal), _in("ja", proposal)
    assert english[0].startswith("Most likely, from the patient's own words (Japanese): ")
    assert japanese[0].startswith("患者さん自身の言葉（日本語）から見て")
    assert any("糖尿病" in line or "喉がすごく渇く" in line for line in english)  # the patient's words, quoted


def test_answers_are_worded_in_the_readers_language_whatever_language_they_were_given_in():
    with translation.override("es"):
        line = reasons.answer_line("¿Qué parte del cuerpo está más afectada?", "Ojos o vista", ["ophthalmology"])
    assert line.params["question"] == "body_part" and line.params["option"] == "eyes"
    stored = reasons.to_data(line)
    with translation.override("en"):
        assert reasons.render_one(stored).startswith("Answer to “Which part of the body is most affected?”: "
                                                     "“Eyes or vision”")
    with translation.override("ja"):
        assert reasons.render_one(stored).startswith("「体のどの部分が一番問題ですか?」への回答: 「目・視力」")
    with translation.override("es"):
        assert reasons.render_one(stored).startswith("Respuesta a «¿Qué parte del cuerpo está más afectada?»")


def test_every_engine_line_round_trips_through_its_stored_form():
    lines = [reasons.model_line([("endocrinology", 0.81), ("nephrology", 0.06)], "lay", "es"),
             reasons.concept_line({"term": "azúcar alta", "concept": "diabetes", "clinical": "diabetes mellitus",
                                   "icd10": "E08-E13", "specialty": "endocrinology"}),
             reasons.code_line("E11.9", "endocrinology"), reasons.generalist_line(),
             reasons.below_threshold(0.41, 0.7, "lay"),
             reasons.refined_line({"subspecialty": "breast_oncology", "applies_to": "hematology_oncology",
                                   "evidence": [{"kind": "code", "value": "C50.911", "ref": "record:1"}],
                                   "source": "NCCN"}),
             reasons.answer_line("Which part of the body is most affected?", "Eyes or vision", ["ophthalmology"])]
    for line in lines:
        assert reasons.render_one(reasons.to_data(line)) == line, line.key
    assert "record:1" not in str(reasons.to_data(lines[5]))  # where the evidence was found stays out


def test_old_rows_and_bad_stored_data_read_as_stored_never_an_error():
    old = TriageProposal(reasons=["Confidence 41% is below the 70% needed for the patient's own words: "
                                  "a coordinator decides.",
                                  "No diagnosis code maps to a specialty: a coordinator decides."])
    with translation.override("ja"):
        lines = reasons.render(old)
    assert lines[0].startswith("Confidence 41%")  # an old row's worded line stays as it was written
    assert lines[1] == "どの診断コードも専門科に対応しません: コーディネーターが判断します。"  # a catalog message
    assert reasons.render(old, keys=reasons.PATIENT_KEYS) == []  # no kind: not for the patient's side
    broken = TriageProposal(reasons=["kept text"], reasons_data=[
        {"key": "concept", "params": {"words": "x"}, "text": "kept text"},  # parameters missing
        {"key": "no_such_key", "params": {}}, {"text": ""}, 7, "plain line"])
    assert reasons.render(broken) == ["kept text", "7", "plain line"]


@pytest.mark.django_db
def test_the_api_words_reasons_in_the_readers_language(spanish_case, coordinator):
    proposal = propose(case=spanish_case)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(coordinator)}")
    url = f"/api/v1/cases/{spanish_case.pk}/triage/"
    english = api.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    spanish = api.get(url, HTTP_ACCEPT_LANGUAGE="es").json()
    assert english["reasons"][0].startswith("Most likely, from the patient's own words (Spanish)")
    assert spanish["reasons"][0].startswith("Lo más probable, según las propias palabras del paciente (Español)")
    assert english["reasons_data"] == spanish["reasons_data"] == proposal.reasons_data
    old = TriageProposal.objects.create(case=spanish_case, engine="old", model_version="0", urgency="routine",
                                        reasons=["an old line"])
    assert old == spanish_case.triage_proposals.order_by("-created_at").first()
    body = api.get(url, HTTP_ACCEPT_LANGUAGE="es").json()
    assert body["reasons"] == ["an old line"] and body["reasons_data"] == [{"text": "an old line"}]


@pytest.mark.django_db
def test_the_coordinators_page_and_the_patients_page_each_in_their_language(spanish_case, coordinator,
                                                                            patient_user, login, client):
    proposal = propose(case=spanish_case)
    term = next(i["params"]["words"] for i in proposal.reasons_data if i["key"] == "concept")
    page = login(client, coordinator).get(f"/cases/{spanish_case.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert 'id="triage-reasons"' in html and "Most likely, from the patient&#x27;s own words (Spanish)" in html
    assert f"“{term}” understood as" in html
    assert 'id="triage-understood"' not in html  # the care team reads the whole proposal instead
    client.logout()
    page = login(client, patient_user).get(f"/cases/{spanish_case.pk}/", HTTP_ACCEPT_LANGUAGE="es")
    html = page.content.decode()
    assert 'id="triage-understood"' in html and f"«{term}»" in html
    assert "understood as" not in html and 'id="triage-reasons"' not in html
    box = html.split('id="triage-understood"')[1].split("</section>")[0]
    assert "Lo más probable" not in html and "%" not in box
    assert "lo revisa antes de elegir a su especialista" in box  # the choice is still to come
    Case.objects.filter(pk=spanish_case.pk).update(status=Status.DELIVERED)
    box = client.get(f"/cases/{spanish_case.pk}/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    box = box.split('id="triage-understood"')[1].split("</section>")[0]
    assert f"«{term}»" in box and "coordinador" not in box.lower()  # delivered: no "a coordinator checks this"


def test_presenters_give_the_lines_in_the_active_language():
    proposal = TriageProposal(reasons=["x"], reasons_data=[reasons.to_data(reasons.generalist_line())],
                              ranked=[], panel_roles=[], summary={}, checklist=[])
    proposal.case = None
    with translation.override("en"):
        lines = reasons.render(proposal)
    assert lines[0].startswith("Needs a generalist first")


def test_every_catalog_specialty_name_is_a_message_for_the_catalogs():
    from konsil.matching import catalog
    from konsil.triage.specialty_names import NAMES

    assert {row["name"] for row in catalog.rows()} <= set(NAMES)


@pytest.mark.django_db
def test_someone_acting_for_the_patient_reads_of_the_patients_specialist(spanish_case, patient_user, network,
                                                                          login, client):
    propose(case=spanish_case)
    carer = make_user(Role.CAREGIVER, network, first_name="Carl")
    CaregiverAuthorization.objects.create(caregiver=carer, patient=spanish_case.patient, relationship="son",
                                          signed_by="Ana García", signed_at=timezone.now(),
                                          expires_on=timezone.localdate() + dt.timedelta(days=30))
    for user, words in ((carer, "before choosing the patient's specialist"),
                        (patient_user, "before choosing your specialist")):
        html = login(client, user).get(f"/cases/{spanish_case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        box = html.split('id="triage-understood"')[1].split("</section>")[0]
        assert words in box, user
        client.logout()
