"""Eligibility at sign-up and at submission; the case carries the program and its channel; self-pay."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.utils import timezone

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.cases.choices import Channel
from konsil.core.errors import PermissionDenied, ValidationFailed
from konsil.programs import commands, eligibility, enrolment
from konsil.programs.models import Enrollment

from ..factories import make_user
from .conftest import add_member

TODAY = timezone.localdate


def ask(program, **kw):
    data = {"member_id": "E100", "birth_date": "1980-01-01", "family_name": "Doe", **kw}
    return enrolment.check(actor="public", program=program, data=data)


def test_eligible_and_every_reason(employer_program, member):
    assert ask(employer_program).reason == "eligible"
    assert ask(employer_program, family_name=" doe ").eligible  # case and spaces do not matter
    assert ask(employer_program, member_id="E999").reason == "not_found"
    assert ask(employer_program, birth_date="1980-01-02").reason == "not_found"
    assert ask(employer_program, service="phone").reason == "service_not_covered"
    early = (member.coverage_start - dt.timedelta(days=1)).isoformat()
    assert ask(employer_program, on=early).reason == "not_started"
    member.coverage_end = TODAY() - dt.timedelta(days=5)
    member.save()
    result = ask(employer_program)
    assert (result.reason, result.date) == ("terminated", member.coverage_end)
    assert member.coverage_end.isoformat() in result.message
    event = AuditEvent.objects.filter(action="program.eligibility").last()
    assert event.detail["reason"] == "terminated" and "Doe" not in json.dumps(event.detail)


@pytest.mark.parametrize("data, field", [
    ({"member_id": "", "birth_date": "1980-01-01", "family_name": "Doe"}, "member_id"),
    ({"member_id": "E1", "birth_date": "01/01/1980", "family_name": "Doe"}, "birth_date"),
    ({"member_id": "E1", "birth_date": "1980-01-01", "family_name": {"a": 1}}, "family_name"),
    ({"member_id": "E1" * 50, "birth_date": "1980-01-01", "family_name": "Doe"}, "member_id"),
    ({"member_id": "E1", "birth_date": "3000-01-01", "family_name": "Doe"}, "birth_date"),
    ({"member_id": "E1", "birth_date": "1980-01-01", "family_name": "Doe", "service": "x"}, "service"),
    ({"member_id": "E1", "birth_date": "1980-01-01", "family_name": "Doe\x00"}, "family_name"),
])
def test_bad_input_names_the_field(employer_program, data, field):
    with pytest.raises(ValidationFailed) as exc:
        enrolment.check(actor="public", program=employer_program, data=data)
    assert field in exc.value.as_dict()["errors"]


def test_open_program_needs_its_code(employer_program):
    employer_program.eligibility = "open"
    employer_program.save()
    data = {"birth_date": "1980-01-01", "family_name": "Doe", "enrolment_code": employer_program.enrolment_code}
    assert enrolment.check(actor="public", program=employer_program, data=data).reason == "open_program"
    with pytest.raises(ValidationFailed) as exc:
        enrolment.check(actor="public", program=employer_program, data={**data, "enrolment_code": "WRONG"})
    assert "enrolment_code" in exc.value.as_dict()["errors"]


def start(program, user, **kw):
    data = {"member_id": "E100", "birth_date": "1980-01-01", "family_name": "Doe", "given_name": "Jane",
            "sex": "female", "state": "TX", **kw}
    return enrolment.start_case(actor=user, program=program, data=data)


def test_member_starts_a_case_in_the_program(employer_program, member, network):
    user = make_user(Role.PATIENT, network)
    enrollment = start(employer_program, user)
    case = enrollment.case
    assert (case.channel, case.sponsor, case.status) == (Channel.EMPLOYER, employer_program.sponsor, "draft")
    assert (enrollment.eligible, enrollment.member, enrollment.self_pay) == (True, member, False)
    assert case.identity.family_name == "Doe"


def test_ineligible_member_continues_as_self_pay_with_the_price(employer_program, network):
    user = make_user(Role.PATIENT, network)
    with pytest.raises(ValidationFailed) as exc:
        start(employer_program, user)
    assert exc.value.code == "not_eligible" and "$450.00" in exc.value.message
    assert not Enrollment.objects.exists()
    enrollment = start(employer_program, user, self_pay="on")
    assert (enrollment.self_pay, enrollment.price_cents, enrollment.reason) == (True, 45000, "not_found")
    assert enrollment.case.channel == Channel.PATIENT and enrollment.case.sponsor is None


def test_only_patients_start_cases(employer_program, member, payer_admin):
    with pytest.raises(PermissionDenied):
        start(employer_program, payer_admin)


def test_submission_checks_again(employer_program, member, network, coordinator):
    from konsil.cases.services import sign_consent, transition, update_case

    user = make_user(Role.PATIENT, network)
    enrollment = start(employer_program, user)
    case = enrollment.case
    update_case(actor=user, case=case, data={"diagnosis_text": "Back pain", "questions": ["Surgery?"]})
    sign_consent(actor=user, case=case, scope=["obtain_records", "share_with_reviewers", "share_report"],
                 signer_name="Jane Doe")
    member.coverage_end = TODAY() - dt.timedelta(days=1)
    member.save()
    transition(actor=user, case=case, action="submit")
    enrollment.refresh_from_db()
    assert (enrollment.eligible, enrollment.reason, enrollment.price_cents) == (False, "terminated", 45000)
    assert AuditEvent.objects.filter(action="program.eligibility_recorded", detail__when="submission").exists()


def test_fold_ignores_accents_and_hyphens():
    assert eligibility.fold("García-López") == eligibility.fold("garcia lopez")


def test_cli_eligibility_json_lines(employer_program, member):
    add_member(employer_program, "E200", coverage_end=TODAY() - dt.timedelta(days=3))
    lines = [{"id": 1, "member_id": "E100", "birth_date": "1980-01-01", "family_name": "Doe"},
             {"id": 2, "member_id": "E200", "birth_date": "1980-01-01", "family_name": "Doe"},
             {"id": 3, "member_id": "NOPE", "birth_date": "1980-01-01", "family_name": "Doe",
              "on": TODAY().isoformat()},
             {"id": 4, "member_id": "E100", "birth_date": "1980-01-01", "family_name": "Doe",
              "on": (TODAY() - dt.timedelta(days=400)).isoformat()}]
    raw = "\n".join(json.dumps(x) for x in lines) + "\nnot json\n[1]\n" + json.dumps(
        {"id": 7, "member_id": "E100", "birth_date": "1980-99-01", "family_name": "Doe"}) + "\n"
    out = io.StringIO()
    assert commands.check_lines(io.StringIO(raw), out, program="acme-so") == 0
    got = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [(g["id"], g["eligible"], g["reason"]) for g in got[:4]] == [
        (1, True, "eligible"), (2, False, "terminated"), (3, False, "not_found"), (4, False, "not_started")]
    assert [g["reason"] for g in got[4:]] == ["invalid_input"] * 3 and got[6]["id"] == 7
    assert commands.check_lines(io.StringIO(""), io.StringIO(), program="nope", err=io.StringIO()) == 2


def test_cli_roster_import_prints_the_summary(employer_program, tmp_path, capsys):
    from konsil import cli

    path = tmp_path / "roster.csv"
    path.write_text("member_id,given_name,family_name,birth_date,coverage_start,coverage_end\n"
                    "C1,Al,Bo,1970-01-01,2026-01-01,\nC2,Cy,Do,1970-01-01,2026-05-01,2026-01-01\n")
    assert cli.main(["programs", "roster", "import", str(path), "--program", "acme-so"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] == 1 and summary["rejected"][0]["row"] == 3
    assert set(summary) == {"added", "changed", "terminated", "unchanged", "rejected", "warnings"}
    assert cli.main(["programs", "roster", "import", str(tmp_path / "missing.csv"), "--program", "acme-so"]) == 2
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe")
    assert cli.main(["programs", "roster", "import", str(tmp_path / "bad.csv"), "--program", "acme-so"]) == 1
