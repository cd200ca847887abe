"""Public verification of a signed report: valid, changed since signing, superseded, unknown; nothing clinical."""

from django.test import Client
from django.urls import reverse

from konsil.audit.models import AuditEvent
from konsil.opinions.models import Opinion
from konsil.opinions.report import format_code

from ..conftest import complete_opinion


def _verify(code):
    return Client().get(reverse("opinions:verify", args=[code]))


def test_a_signed_report_verifies_without_clinical_content(case_at, specialist):
    case = case_at("delivered")
    opinion = Opinion.objects.get(case=case)
    assert len(opinion.verify_code) == 12
    response = _verify(opinion.verify_code)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Valid." in page and case.reference in page and specialist.user.display_name in page
    assert "Konsil" in page  # the organization (letterhead or brand name)
    for clinical in ("Ana", "García", "stent", "I25", "medication", "Stress echocardiogram", "1970"):
        assert clinical not in page.split("<main", 1)[-1], clinical
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert AuditEvent.objects.filter(action="report.verify", object_id=str(opinion.pk), actor_label="public",
                                     outcome="success").exists()
    # the printed form (groups of four, any case) works too
    assert "Valid." in _verify(format_code(opinion.verify_code).lower()).content.decode()


def test_a_changed_report_is_not_valid(case_at):
    case = case_at("delivered")
    opinion = Opinion.objects.get(case=case)
    Opinion.objects.filter(pk=opinion.pk).update(narrative="Surgery now.")  # behind the application's back
    page = _verify(opinion.verify_code).content.decode()
    assert "Not valid." in page and "Valid." not in page.replace("Not valid.", "")
    assert AuditEvent.objects.filter(action="report.verify", outcome="denied", object_id=str(opinion.pk)).exists()


def test_an_amended_report_says_a_newer_version_exists(client, login, case_at, specialist):
    case = case_at("delivered")
    first = Opinion.objects.get(case=case)
    login(client, specialist.user)
    data = complete_opinion(case)
    answers = data.pop("answers")
    data.update({f"answer_{qid}": text for qid, text in answers.items()}, reason="New result",
                signing_secret="correct horse battery")
    assert client.post(reverse("opinions:amend", args=[case.pk]), data).status_code == 302
    second = Opinion.objects.get(case=case, version=2)
    assert "Valid, but amended." in _verify(first.verify_code).content.decode()
    assert "Valid." in _verify(second.verify_code).content.decode()


def test_unknown_codes_are_404(db):
    for code in ("AAAABBBBCCCC", "short", "x" * 40, "<script>"):
        response = _verify(code)
        assert response.status_code == 404
        assert "Unknown code." in response.content.decode()
    assert AuditEvent.objects.filter(action="report.verify", outcome="denied").count() == 4


def test_a_typed_code_leads_to_its_page(case_at):
    opinion = Opinion.objects.get(case=case_at("delivered"))
    form = Client().get(reverse("opinions:verify_lookup"))
    assert form.status_code == 200 and 'name="code"' in form.content.decode()
    assert "Unknown code." not in form.content.decode()
    typed = Client().get(reverse("opinions:verify_lookup"), {"code": format_code(opinion.verify_code)})
    assert typed.status_code == 302 and typed["Location"] == reverse("opinions:verify", args=[opinion.verify_code])
    assert Client().get(reverse("opinions:verify_lookup"), {"code": "<>!"}).status_code == 200
