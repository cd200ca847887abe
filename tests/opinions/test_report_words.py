"""A case told in words only (#9): the report's "Diagnosis submitted" gives the patient's words, not a dash."""

from django.urls import reverse


def test_words_only_case_shows_the_patients_words_in_the_report(client, login, case_at, patient_user, draft_case):
    draft_case.diagnoses.all().delete()
    draft_case.diagnosis_text = "breast cancer in my right breast"
    draft_case.save()
    case = case_at("delivered")
    login(client, patient_user)
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    start = page.index("Diagnosis submitted")
    assert "breast cancer in my right breast" in page[start:start + 600]


def test_coded_case_lists_its_codes(client, login, case_at, patient_user):
    case = case_at("delivered")
    login(client, patient_user)
    page = client.get(reverse("opinions:report", args=[case.pk])).content.decode()
    start = page.index("Diagnosis submitted")
    assert case.diagnoses.first().code in page[start:start + 600]


def test_the_specialist_reviews_the_patients_words(s_client, case_at, draft_case):
    draft_case.diagnoses.all().delete()
    draft_case.diagnosis_text = "breast cancer in my right breast"
    draft_case.save()
    case = case_at("in_review")
    page = s_client.get(reverse("opinions:review", args=[case.pk])).content.decode()
    start = page.index("Current diagnosis")
    assert "breast cancer in my right breast" in page[start:start + 600]
    assert "<li>—</li>" not in page[start:start + 600]
