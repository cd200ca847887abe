"""The intake pages in the patient's own words (#9): words first, codes optional, country and state pickers,
every step saved, every answer on the review step, code suggestions confirmed on the case page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.cases import coding, services
from konsil.cases.models import Case, CodeSuggestion
from konsil.core import icd10

from ..factories import make_draft

PATIENT_STEP = {"given_name": "Rosa", "family_name": "Ejemplo", "birth_date": "1968-04-12", "sex": "female",
                "country": "US", "state": "CA", "language": "es", "email": "rosa@example.test",
                "phone": "+1 555 0100"}
WORDS_STEP = {"diagnosis_text": "breast cancer", "diagnoses": [""],
              "proposed_treatment": "Surgery to remove the left breast, then chemotherapy",
              "treating_physician": "Dr. Roe", "treating_physician_email": "roe@example.test",
              "treating_facility": "Mercy", "clinical_summary": "A lump found in March; biopsy: ductal carcinoma."}


def url(name, **kwargs):
    return reverse(name, kwargs=kwargs or None)


@pytest.fixture
def started(client, patient_user, network):
    client.force_login(patient_user)
    response = client.post(url("cases:new"), PATIENT_STEP)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Case.objects.get(requester=patient_user)


# The steps' words about "the patient" where a referring clinician fills them in for their patient.
ON_BEHALF_WORDS = {
    2: (["Does the patient need surgery now"], ["Do I need surgery now"]),
    3: (["The patient&#x27;s history and symptoms", "tests and treatments the patient had so far"],
        ["Your history and symptoms", "treatments you had so far"]),
    4: (["The patient needs an interpreter", "speak the patient&#x27;s language"],
        ["I need an interpreter", "speak your language"]),
    5: (["The patient's medical records", "shared only with the patient's care team"],
        ["Your medical records", "your care team"]),
}


@pytest.mark.parametrize("step", sorted(ON_BEHALF_WORDS))
def test_a_clinician_filling_the_wizard_reads_about_the_patient(client, login, network, patient_user, step):
    from konsil.accounts.roles import Role

    from ..factories import make_user

    clinician = make_user(Role.REFERRING_CLINICIAN, network)
    login(client, clinician)
    assert client.post(url("cases:new"), PATIENT_STEP).status_code == 302
    referred = Case.objects.get(requester=clinician)
    page = client.get(url("cases:intake", pk=referred.pk, step=step)).content.decode()
    theirs, own = ON_BEHALF_WORDS[step]
    assert all(words in page for words in theirs) and not any(words in page for words in own), page
    client.force_login(patient_user)
    page = client.get(url("cases:intake", pk=make_draft(network, patient_user).pk, step=step)).content.decode()
    assert all(words in page for words in own) and not any(words in page for words in theirs)


def test_the_clinical_step_asks_in_words_and_keeps_them_in_full(client, started):
    page = client.get(url("cases:intake", pk=started.pk, step=3)).content.decode()
    assert 'name="diagnosis_text"' in page and "in your own words" in page
    assert 'maxlength="10"' not in page and 'data-icd10-lookup="/api/v1/icd10/"' in page
    assert "konsil/intake.js" in page
    response = client.post(url("cases:intake", pk=started.pk, step=3), WORDS_STEP)
    assert response.status_code == 302
    started.refresh_from_db()
    assert started.diagnosis_text == "breast cancer" and started.wizard_step == 4
    assert list(started.diagnoses.all()) == [] and started.proposed_cpt == ""
    assert started.code_suggestions.filter(CodeSuggestion.matching("C50")).exists()  # codes are encrypted


def test_words_typed_in_a_code_box_join_the_diagnosis_in_words(client, started):
    response = client.post(url("cases:intake", pk=started.pk, step=3),
                           {**WORDS_STEP, "diagnosis_text": "", "diagnoses": ["breast cancer", "C50.912"]})
    assert response.status_code == 302
    started.refresh_from_db()
    assert started.diagnosis_text == "breast cancer"
    assert list(started.diagnoses.values_list("code", flat=True)) == ["C50.912"]


def test_a_code_picked_from_the_lookup_keeps_its_code(client, started):
    client.post(url("cases:intake", pk=started.pk, step=3),
                {**WORDS_STEP, "diagnoses": ["C50.912 — Malignant neoplasm of unspecified site of left female breast"]})
    assert list(started.diagnoses.values_list("code", flat=True)) == ["C50.912"]


def test_an_unknown_code_is_shown_next_to_the_codes_and_nothing_is_saved(client, started):
    response = client.post(url("cases:intake", pk=started.pk, step=3), {**WORDS_STEP, "diagnoses": ["Z99.999"]})
    assert response.status_code == 200
    assert "Codes are optional" in response.content.decode()
    started.refresh_from_db()
    assert started.diagnosis_text == "" and started.wizard_step == 2


def test_country_and_state_are_pickers_and_a_us_state_is_required(client, patient_user, network):
    client.force_login(patient_user)
    page = client.get(url("cases:new")).content.decode()
    assert '<select name="country"' in page and '<option value="MX">Mexico</option>' in page
    assert "California (CA)" in page
    label = page[page.index('<label for="id_state"'):]
    label = label[:label.index("</label>")]
    assert "(required in the US)" in label and "(optional)" not in label  # not "optional" above "Required when"
    response = client.post(url("cases:new"), {**PATIENT_STEP, "state": ""})
    assert response.status_code == 200 and "Choose the US state" in response.content.decode()
    assert not Case.objects.exists()
    response = client.post(url("cases:new"), {**PATIENT_STEP, "country": "ZZ"})
    assert response.status_code == 200 and not Case.objects.exists()
    response = client.post(url("cases:new"), {**PATIENT_STEP, "country": "MX", "state": ""})
    assert response.status_code == 302
    assert Case.objects.get().identity.country == "MX"


def test_each_step_is_saved_and_the_review_shows_every_answer(client, started):
    client.post(url("cases:intake", pk=started.pk, step=2), {"questions": ["Is a lumpectomy enough?"]})
    client.post(url("cases:intake", pk=started.pk, step=3), WORDS_STEP)
    client.post(url("cases:intake", pk=started.pk, step=4), {"urgency": "urgent", "preferred_delivery": "video",
                                                               "interpreter_needed": "on"})
    client.post(url("cases:intake", pk=started.pk, step=5), {})
    started.refresh_from_db()
    assert started.wizard_step == 6 and started.urgency == "urgent" and started.interpreter_needed
    review = client.get(url("cases:intake", pk=started.pk, step=6)).content.decode()
    for answer in ("Rosa Ejemplo", "California, United States", "rosa@example.test", "+1 555 0100",
                   "Is a lumpectomy enough?",
                   "breast cancer", "Surgery to remove the left breast", "ductal carcinoma", "Dr. Roe",
                   "roe@example.test", "Mercy", "Urgent", "Video", "interpreter needed"):
        assert answer in review, answer


def test_the_case_page_lets_a_coordinator_confirm_a_suggestion(client, started, coordinator, login):
    client.post(url("cases:intake", pk=started.pk, step=3), WORDS_STEP)
    client.logout()
    login(client, coordinator)
    page = client.get(url("cases:detail", pk=started.pk)).content.decode()
    assert 'id="code-suggestions"' in page and "breast cancer" in page
    response = client.post(url("cases:code_decision", pk=started.pk), {"code": "C50", "decision": "confirm"})
    assert response.status_code == 302
    assert list(started.diagnoses.values_list("code", flat=True)) == ["C50"]
    assert CodeSuggestion.objects.get(CodeSuggestion.matching("C50"), case=started).decided_by == coordinator
    refused = client.post(url("cases:code_decision", pk=started.pk), {"code": "C50", "decision": "confirm"})
    assert refused.status_code == 200 and "already decided" in refused.content.decode()


def test_the_patient_sees_suggestions_but_cannot_confirm(client, started):
    client.post(url("cases:intake", pk=started.pk, step=3), WORDS_STEP)
    page = client.get(url("cases:detail", pk=started.pk)).content.decode()
    assert 'id="code-suggestions"' in page and 'value="confirm"' not in page
    client.post(url("cases:code_decision", pk=started.pk), {"code": "C50", "decision": "confirm"})
    assert not started.diagnoses.exists()
    assert AuditEvent.objects.filter(action="case.code_decide", outcome="denied").exists()
    assert client.post(url("cases:code_refresh", pk=started.pk)).status_code == 403


# --- suggestions as a function ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, code", [
    ("I have breast cancer", "C50"), ("heart attack last year", "I25.2"), ("high blood pressure", "I10"),
    ("atrial fibrillation since 2019", "I48.91"),
])
def test_suggestions_read_plain_words(text, code):
    assert code in [s["code"] for s in icd10.suggest(text)]


@pytest.mark.parametrize("text", ["", "Signed: Dr. A.", "Page 1 of 3", "\x00", "😀" * 50])
def test_no_suggestion_from_boilerplate_or_nothing(text):
    assert icd10.suggest(text) == []


def test_refresh_keeps_decisions_and_drops_what_the_words_no_longer_say(network, patient_user, coordinator):
    case = make_draft(network, patient_user, codes=())
    services.update_case(actor=patient_user, case=case,
                         data={"diagnosis_text": "breast cancer and high blood pressure"})
    assert set(case.code_suggestions.values_list("code", flat=True)) >= {"C50", "I10"}
    coding.decide(actor=coordinator, case=case, code="I10", decision="reject")
    services.update_case(actor=patient_user, case=case, data={"diagnosis_text": "high blood pressure"})
    codes = dict(case.code_suggestions.values_list("code", "status"))
    assert "C50" not in codes and codes["I10"] == "rejected"


def test_submitting_reads_the_records_for_codes(network, patient_user, django_capture_on_commit_callbacks):
    from unittest import mock

    from konsil.cases.services import transition

    case = make_draft(network, patient_user, codes=())
    with mock.patch("konsil.records.selectors.record_texts",
                    return_value=[("Pathology: invasive ductal carcinoma of the breast.", "attachment:1")]), \
            django_capture_on_commit_callbacks(execute=True):
        transition(actor=patient_user, case=case, action="submit")
    suggestion = case.code_suggestions.get(CodeSuggestion.matching("C50"))
    assert suggestion.source == "records" and suggestion.status == "suggested"


# A referral letter and a CT report as a clinician writes them: every word of the wrong codes is there, in other
# sentences or denied.
REFERRAL = ("Suspected primary lung cancer (no biopsy yet). COPD GOLD 3, FEV1 45% predicted. Hypertension, type 2 "
            "diabetes. ECOG 1.")
CT_REPORT = ("Findings: 2.3 x 2.0 cm spiculated nodule in the right upper lobe. Centrilobular emphysema. "
             "No pleural effusion. No enlarged mediastinal or hilar lymph nodes.\n"
             "Impression: highly suspicious for primary lung malignancy. Knee: no effusion.")


def test_a_code_needs_its_words_in_one_sentence():
    from konsil.cases.coding import suggest

    codes = [s["code"] for s in suggest(REFERRAL, limit=10)]
    assert "E11" in codes
    assert "E10" not in codes  # "ECOG 1." and "type 2 diabetes"
    assert not any(c.startswith("I27") for c in codes)  # "primary lung cancer" and "Hypertension"
    found = [s["code"] for s in suggest("Left breast mass 1.8 cm with invasive cancer on biopsy.", limit=5)]
    assert any(c.startswith("C50") for c in found)  # "1.8" ends no sentence


def test_a_code_the_record_denies_is_not_suggested():
    from konsil.cases.coding import suggest

    codes = [s["code"] for s in suggest(CT_REPORT, limit=10)]
    assert "J43.2" in codes  # centrilobular emphysema: said
    assert "R59" not in codes and not any(c.startswith(("J90", "J91", "M25.4")) for c in codes)  # all denied
    assert "R59" in [s["code"] for s in suggest("Enlarged lymph nodes in the neck.", limit=5)]
    assert "R59" in [s["code"] for s in suggest("No fever. Enlarged lymph nodes in the neck.", limit=5)]


def test_a_suspected_diagnosis_is_not_coded():
    """ICD-10-CM guideline IV.H: suspected, possible or rule-out diagnoses are not coded; confirmed ones are."""
    from konsil.cases.coding import suggest

    def codes(text):
        return [s["code"] for s in suggest(text, limit=10)]

    assert not any(c.startswith("C80") for c in codes(REFERRAL))  # "Suspected primary lung cancer"
    assert not any(c.startswith("C80") for c in codes(CT_REPORT))  # "highly suspicious for primary lung malignancy"
    for text in ("Possible pulmonary embolism.", "Rule out pulmonary embolism.", "Pulmonary embolism is suspected.",
                 "Concern for pulmonary embolism on the CT.", "Likely pulmonary embolism."):
        assert not any(c.startswith("I26") for c in codes(text)), text
    assert any(c.startswith("I26") for c in codes("Pulmonary embolism on the CT. Possible pneumonia."))
    assert "E11" in codes("Type 2 diabetes, probably since 2010.")  # a guess about when is not about whether
    # a patient's own hedges ("... think it is cancer" gives C34)
    for text in ("They found a spot in my right lung and think it might be cancer.",
                 "The doctor said I may have lung cancer.", "Not sure if it is lung cancer."):
        assert not any(c.startswith("C34") for c in codes(text)), text
    assert any(c.startswith("C34") for c in codes("They found lung cancer. It may be early."))


def test_denied_words_are_found_in_text_whose_lower_case_is_longer():
    """"İ" lower-cases to two characters: the context is read at the phrase's own place, not 30 characters on
    (where "No fever" would deny it)."""
    from konsil.cases.coding import suggest

    assert "I26" in [s["code"] for s in suggest("İ" * 30 + " pulmonary embolism. No fever.", limit=5)]
    assert "I26" not in [s["code"] for s in suggest("İ" * 30 + ". No pulmonary embolism.", limit=5)]


def test_the_country_picker_speaks_the_reader_s_language_in_its_order(client, patient_user, network):
    """Country names come from the Unicode CLDR in the page's language, sorted by name, not by ISO code."""
    import re

    from django.conf import settings

    client.force_login(patient_user)
    for language, names in (("en", ["Afghanistan", "Albania", "United States"]),
                            ("es", ["Emiratos Árabes Unidos", "Eritrea"]), ("ja", ["アメリカ合衆国"])):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        page = client.get(url("cases:new")).content.decode()
        select = page[page.index('<select name="country"'):]
        select = select[:select.index("</select>")]
        shown = re.findall(r'<option value="(\w\w)"[^>]*>([^<]+)</option>', select)
        labels = [name for _code, name in shown]
        assert all(name in labels for name in names), (language, labels[:5])
        if language != "ja":
            assert labels.index(names[0]) < labels.index(names[-1])
        assert len(shown) == len(set(code for code, _n in shown)) > 190
        assert re.search(r'<option value="US"[^>]*selected', select)  # still the first guess


def _ticked(page: str) -> set[str]:
    import re

    return {value for value in re.findall(r'<input type="checkbox" name="scope" value="([a-z_]+)"[^>]*checked', page)}


def test_sending_the_opinion_to_a_physician_is_ticked_only_when_one_is_named(client, started):
    review = url("cases:intake", pk=started.pk, step=6)
    assert _ticked(client.get(review).content.decode()) == {"obtain_records", "share_with_reviewers"}
    client.post(url("cases:intake", pk=started.pk, step=3), WORDS_STEP)  # names Dr. Roe
    assert _ticked(client.get(review).content.decode()) == {"obtain_records", "share_with_reviewers",
                                                            "share_report"}


@pytest.mark.parametrize("language", ["es", "ja", "en"])
def test_the_birth_date_reads_back_in_every_language(client, started, language):
    """A date picker takes only YYYY-MM-DD: a date localized for the page ("12/04/1968") showed an empty field
    and the step could not be saved again."""
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(url("cases:intake", pk=started.pk, step=1)).content.decode()
    assert 'type="date" name="birth_date" value="1968-04-12"' in page, page[page.find("birth_date") - 200:][:400]


@pytest.mark.parametrize("text, codes", [
    ("A slipped disc and pain down my left leg; physical therapy did not help.", ["M79.605"]),
    ("Pain in my leg for months.", ["M79.606"]),  # no side said: the unspecified code, not all three
    ("Pain in my right leg and my left leg.", ["M79.604", "M79.605"]),
    ("Pain in right leg.", ["M79.604"]),
])
def test_a_code_that_differs_by_side_follows_the_side_the_words_name(text, codes):
    assert [s["code"] for s in coding.suggest(text, limit=5) if s["code"].startswith("M79.60")] == codes


def test_urgency_is_asked_in_plain_words(client, started):
    page = client.get(url("cases:intake", pk=started.pk, step=4)).content.decode()
    assert "a treatment decision is due within days" in page and ">STAT<" not in page


def test_where_the_patient_lives_is_said_in_words_in_the_reader_s_language(client, started):
    from django.conf import settings

    review = url("cases:intake", pk=started.pk, step=6)
    assert "California, United States" in client.get(review).content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    assert "California, Estados Unidos" in client.get(review).content.decode()  # not "CA, US"
