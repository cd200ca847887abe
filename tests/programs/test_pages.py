"""The program pages: who sees what, forms that answer bad input with messages (4xx), downloads."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.programs.models import Mandate, Member, Program

from ..factories import make_user, valid_npi
from .conftest import add_member


def url(name, program, **kw):
    return reverse(f"programs:{name}", kwargs={"pk": program.pk, **kw})


def test_sponsor_admin_sees_the_program_pages(client, login, employer_program, employer_admin, member):
    login(client, employer_admin)
    assert employer_program.name in client.get(reverse("programs:list")).content.decode()
    for name in ("detail", "roster", "reviews", "billing", "dashboard"):
        response = client.get(url(name, employer_program))
        assert response.status_code == 200, name
    csv = client.get(url("dashboard", employer_program) + "?format=csv")
    assert csv["Content-Type"].startswith("text/csv") and b"Doe" not in csv.content
    assert AuditEvent.objects.filter(action="program.read", actor=employer_admin).exists()


def test_outsiders_get_404(client, login, employer_program, payer_admin):
    login(client, payer_admin)
    assert client.get(url("detail", employer_program)).status_code == 404
    assert AuditEvent.objects.filter(action="program.read", outcome="denied").exists()


def test_edit_saves_and_reports_bad_input(client, login, employer_program, employer_admin, network_admin):
    login(client, employer_admin)
    data = {"name": "Acme 2", "services": ["written"], "eligibility": "roster", "pricing": "case_rate",
            "rate_written": "1", "self_pay": "0", "active": "on",
            "mandated": "22630 | Lumbar fusion | 14", "contacts": "Benefits Team | benefits@acme.test | | HR"}
    assert 'name="rate_written" value="750.00"' in client.get(url("edit", employer_program)).content.decode()
    response = client.post(url("edit", employer_program), data)
    assert response.status_code == 302
    employer_program.refresh_from_db()  # the sponsor edits the program, not the prices it is billed
    assert (employer_program.name, employer_program.case_rates["written"], employer_program.self_pay_cents) == (
        "Acme 2", 75000, 45000)
    client.logout()
    login(client, network_admin)
    data = {**data, "rate_written": "800", "self_pay": "400"}
    response = client.post(url("edit", employer_program), data)
    assert response.status_code == 302
    employer_program.refresh_from_db()
    assert (employer_program.name, employer_program.case_rates, employer_program.self_pay_cents) == (
        "Acme 2", {"written": 80000}, 40000)
    assert employer_program.mandated_procedures.get().cpt == "22630"
    event = AuditEvent.objects.filter(action="program.update").last()
    assert "case_rates" in event.detail["fields"]
    bad = {**data, "rate_written": "lots", "accent": "red", "mandated": "ABC | x | 400"}
    response = client.post(url("edit", employer_program), bad)
    assert response.status_code == 400
    body = response.content.decode()
    assert "A colour like" in body and "Check the highlighted fields" in body or "field-error" in body
    employer_program.refresh_from_db()
    assert employer_program.name == "Acme 2"


def test_roster_upload_page(client, login, employer_program, employer_admin):
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, employer_admin)
    good = b"member_id,given_name,family_name,birth_date,coverage_start\nQ1,Al,Bo,1970-01-01,2026-01-01\nQ2,,,x,\n"
    response = client.post(url("roster", employer_program), {"file": SimpleUploadedFile("r.csv", good)})
    assert response.status_code == 200 and "1 added" in response.content.decode()
    assert Member.objects.filter(member_id="Q1").exists()
    response = client.post(url("roster", employer_program), {"file": SimpleUploadedFile("r.834", b"ISA*nope")})
    assert response.status_code == 400 and "834" in response.content.decode()


def test_member_page_checks_and_starts(client, login, employer_program, member, network):
    page = reverse("programs:public", args=[employer_program.slug])
    anonymous = client.post(page, {"member_id": "E100", "family_name": "Doe", "birth_date": "1980-01-01",
                                   "service": "written", "action": "check"})
    assert anonymous.status_code == 200 and "You are eligible" in anonymous.content.decode()
    assert "Eligible." not in anonymous.content.decode()  # said once, not "You are eligible. Eligible."
    bad = client.post(page, {"member_id": "", "family_name": "Doe", "birth_date": "yesterday", "service": "written"})
    assert bad.status_code == 400
    user = make_user(Role.PATIENT, network)
    login(client, user)
    response = client.post(page, {"member_id": "E100", "family_name": "Doe", "birth_date": "1980-01-01",
                                  "service": "written", "given_name": "Jane", "sex": "female", "state": "CA",
                                  "action": "start"})
    assert response.status_code == 302
    case = user.requested_cases.get()
    assert case.channel == "employer" and case.enrollment.program == employer_program
    assert client.get(reverse("programs:case", args=[case.pk])).status_code == 200
    missing = client.get(reverse("programs:public", args=["no-such-program"]))
    assert missing.status_code == 404


def test_referral_page_and_the_members_invitation(client, login, payer_program, payer_admin, network):
    add_member(payer_program, "P9", family_name="Roe")
    login(client, payer_admin)
    data = {"member_id": "P9", "requesting_npi": valid_npi(77), "cpt": "22630", "procedure_text": "Fusion",
            "diagnoses": "M48.062"}
    assert client.post(url("refer", payer_program), {**data, "requesting_npi": "123"}).status_code == 400
    response = client.post(url("refer", payer_program), data)
    assert response.status_code == 302
    mandate = Mandate.objects.get()
    page = client.get(url("review", payer_program, mandate=mandate.pk)).content.decode()
    assert mandate.invite_token in page and "<code>22630</code> Fusion" in page  # the code and its words
    assert "<code>22630</code> Fusion" in client.get(url("reviews", payer_program)).content.decode()
    member_user = make_user(Role.PATIENT, network)
    login(client, member_user)
    accept = reverse("programs:mandate_accept", args=[mandate.invite_token])
    assert client.post(accept, {"family_name": "Nobody", "birth_date": "1980-01-01"}).status_code == 400
    assert client.post(accept, {"family_name": "Roe", "birth_date": "1980-01-01", "state": "CA"}).status_code == 302
    assert client.get(reverse("programs:mandate_accept", args=["bogus"])).status_code == 404


def test_theme_is_a_stylesheet(client, employer_program):
    employer_program.accent = "#0f766e"
    employer_program.save()
    response = client.get(reverse("programs:theme", args=[employer_program.slug]))
    assert response["Content-Type"].startswith("text/css") and b"#0f766e" in response.content


@pytest.mark.parametrize("path", ["/programs/p/%00/", "/programs/invite/%F0%9F%98%80/"])
def test_odd_paths_do_not_fail(client, path, db):
    assert client.get(path).status_code in (302, 404)


def test_program_is_created_by_the_network_admin(network_admin, employer, network):
    from konsil.programs import services

    program = services.create_program(actor=network_admin, data={
        "sponsor": employer.slug, "network": network.slug, "name": "Acme Open", "eligibility": "open",
        "services": ["written"], "pricing": "pmpm", "pmpm_cents": 125})
    assert Program.objects.get(slug="acme-open") == program and program.pmpm_cents == 125
