"""Roster import: CSV and X12 834 (validated with pyx12), additions, changes, terminations, per-row report,
nothing half-saved, re-import changes nothing; bad files and rows answer clearly."""

from __future__ import annotations

import datetime as dt

import pytest

from konsil.audit.models import AuditEvent
from konsil.core.errors import PermissionDenied
from konsil.programs import x12
from konsil.programs.models import Member, RosterImport
from konsil.programs.roster import RosterRejected, import_roster

HEADER = "member_id,subscriber_id,relationship,given_name,family_name,birth_date,sex,coverage_start,coverage_end\n"
GOOD = HEADER + (
    "E1,E1,subscriber,Jane,Doe,1980-01-01,F,2026-01-01,\n"
    "E1-01,E1,child,Jim,Doe,2012-05-05,M,2026-01-01,\n"
    "E2,E2,subscriber,Ana,García,1975-07-07,F,2026-01-01,\n"
)


def run(program, actor, text: str, fmt=None):
    return import_roster(actor=actor, program=program, content=text.encode(), fmt=fmt)


def test_csv_adds_then_reimport_changes_nothing(employer_program, employer_admin):
    first = run(employer_program, employer_admin, GOOD)
    assert first == {"added": 3, "changed": 0, "terminated": 0, "unchanged": 0, "rejected": [], "warnings": []}
    again = run(employer_program, employer_admin, GOOD)
    assert again == {"added": 0, "changed": 0, "terminated": 0, "unchanged": 3, "rejected": [], "warnings": []}
    child = Member.objects.get(program=employer_program, member_id="E1-01")
    assert (child.relationship, child.subscriber_id, child.family_name) == ("child", "E1", "Doe")
    assert RosterImport.objects.filter(program=employer_program).count() == 2
    event = AuditEvent.objects.filter(action="program.roster_import").last()
    assert event.detail["added"] == 0 and "Doe" not in str(event.detail)


def test_csv_changes_and_terminations(employer_program, employer_admin):
    run(employer_program, employer_admin, GOOD)
    text = HEADER + ("E1,E1,subscriber,Jane,Doe-Smith,1980-01-01,F,2026-01-01,\n"
                     "E2,E2,subscriber,Ana,García,1975-07-07,F,2026-01-01,2026-02-28\n")
    summary = run(employer_program, employer_admin, text)
    assert summary == {"added": 0, "changed": 1, "terminated": 1, "unchanged": 0, "rejected": [], "warnings": []}
    assert Member.objects.get(member_id="E2").coverage_end == dt.date(2026, 2, 28)
    assert Member.objects.get(member_id="E1").family_name == "Doe-Smith"


def test_bad_rows_are_reported_and_nothing_of_them_is_saved(employer_program, employer_admin):
    text = ("member_id,given_name,family_name,birth_date,coverage_start,coverage_end,action\n"
            "B1,Ok,Person,1990-01-01,2026-01-01,,add\n"
            "B2,Bad,Date,1990-13-01,2026-01-01,,add\n"
            "B3,Out,Oforder,1990-01-01,2026-05-01,2026-01-01,add\n"
            "B1,Ok,Person,1990-01-01,2026-02-01,,add\n"
            "ZZ9,Who,Knows,1990-01-01,2026-01-01,2026-03-01,terminate\n"
            "B4,,Noname,1990-01-01,2026-01-01,,add\n"
            "B5,Fut,Ure,2099-01-01,2026-01-01,,add\n"
            "B6,Bad,Action,1990-01-01,2026-01-01,,delete\n")
    summary = run(employer_program, employer_admin, text)
    assert summary["added"] == 1
    rejected = {r["row"]: r["error"] for r in summary["rejected"]}
    assert set(rejected) == {3, 4, 5, 6, 7, 8, 9}
    assert "birth_date" in rejected[3]
    assert "out of order" in rejected[4]
    assert "Overlapping coverage" in rejected[5]
    assert "Unknown member" in rejected[6]
    assert "given_name" in rejected[7]
    assert "future" in rejected[8]
    assert "action" in rejected[9]
    assert list(Member.objects.values_list("member_id", flat=True)) == ["B1"]
    assert not any("Person" in e or "Knows" in e for e in rejected.values())  # no PHI in the report


def test_overlapping_addition_against_the_roster(employer_program, employer_admin):
    run(employer_program, employer_admin, GOOD)
    text = HEADER.strip() + ",action\nE2,E2,subscriber,Ana,García,1975-07-07,F,2026-02-01,,add\n"
    summary = run(employer_program, employer_admin, text)
    assert summary["rejected"][0]["row"] == 2 and "already covered" in summary["rejected"][0]["error"]


@pytest.mark.parametrize("content, code", [
    (b"", "empty"), (b"\xff\xfe\x00garbage", "encoding"), (b"name,age\nx,1\n", "columns"),
    (b"member_id\x00,x\n", "binary"), (b"ISA*00*short", "x12"),
])
def test_unreadable_files_are_refused_whole(employer_program, employer_admin, content, code):
    with pytest.raises(RosterRejected) as exc:
        import_roster(actor=employer_admin, program=employer_program, content=content)
    assert exc.value.code == code and exc.value.as_dict()["errors"]
    assert not Member.objects.exists()


def test_only_the_sponsor_or_network_admins_import(employer_program, payer_admin, coordinator, network_admin):
    for outsider in (payer_admin, coordinator):
        with pytest.raises(PermissionDenied):
            run(employer_program, outsider, GOOD)
    assert run(employer_program, network_admin, GOOD)["added"] == 3


def members_834(**changes):
    rows = [dict(member_id="X1", relationship="subscriber", given_name="Jane", family_name="Doe",
                 birth_date="1980-01-01", sex="F", coverage_start="2026-01-01", address="1 Main St",
                 city="Austin", state="TX", postal_code="78701"),
            dict(member_id="X1-01", subscriber_id="X1", relationship="child", given_name="Jim", family_name="Doe",
                 birth_date="2012-05-05", sex="M", coverage_start="2026-01-01")]
    for row in rows:
        row.update(changes.get(row["member_id"], {}))
    return rows


def file_834(rows, control=1) -> str:
    return x12.write_834(rows, sponsor="Acme Corp", sponsor_tax_id="123456789", receiver="Konsil", control=control,
                         when=dt.datetime(2026, 1, 2, 9, 0))


def test_834_additions_terminations_and_reimport(employer_program, employer_admin):
    text = file_834(members_834())
    assert x12.validate(text, expect="834").valid
    assert run(employer_program, employer_admin, text)["added"] == 2
    jane = Member.objects.get(member_id="X1")
    assert (jane.given_name, jane.family_name, jane.city, jane.postal_code) == ("Jane", "Doe", "Austin", "78701")
    assert run(employer_program, employer_admin, text)["unchanged"] == 2
    term = file_834(members_834(**{"X1-01": {"action": "terminate", "coverage_end": "2026-03-31"}}), control=2)
    summary = run(employer_program, employer_admin, term)
    assert (summary["terminated"], summary["unchanged"]) == (1, 1)
    assert Member.objects.get(member_id="X1-01").coverage_end == dt.date(2026, 3, 31)


def test_malformed_834_rows_are_rejected_per_member(employer_program, employer_admin):
    text = file_834(members_834()).replace("DMG*D8*20120505*M", "DMG*D8*20121305*M")
    summary = run(employer_program, employer_admin, text)
    assert summary["added"] == 1
    assert summary["rejected"][0]["row"] == 2 and "DMG" in summary["rejected"][0]["error"]
    assert "20121305" not in summary["rejected"][0]["error"]


def test_834_envelope_errors_refuse_the_file(employer_program, employer_admin):
    text = file_834(members_834())
    for broken in (text.replace("GS*BE", "GS*HC"), text.replace("SE*", "SX*"), text[:200]):
        with pytest.raises(RosterRejected):
            run(employer_program, employer_admin, broken)
    assert not Member.objects.exists()


def test_a_file_without_optional_columns_keeps_what_it_does_not_mention(client, login, employer_program,
                                                                        employer_admin):
    full = ("member_id,given_name,family_name,birth_date,sex,coverage_start,state,city\n"
            "W1,Walk,One,1970-01-01,F,2026-01-01,TX,Austin\n"
            "W3,Walk,Three,1980-01-01,M,2026-01-01,CA,Fresno\n")
    run(employer_program, employer_admin, full)
    lean = ("member_id,given_name,family_name,birth_date,coverage_start\n"
            "W1,Walk,One,1970-01-01,2099-01-01\n"  # coverage moved ahead: the member is no longer covered today
            "W3,Walk,Three,1980-01-01,2026-01-01\n")
    summary = run(employer_program, employer_admin, lean)
    assert (summary["changed"], summary["unchanged"]) == (1, 1)  # W3: nothing in the file differs
    one, three = Member.objects.get(member_id="W1"), Member.objects.get(member_id="W3")
    assert (one.sex, one.state, one.city) == ("female", "TX", "Austin") and one.coverage_start.year == 2099
    assert (three.sex, three.state) == ("male", "CA")
    assert [w["row"] for w in summary["warnings"]] == [2]
    assert "ends the member's coverage today" in summary["warnings"][0]["warning"]
    assert "Walk" not in str(summary["warnings"])
    event = AuditEvent.objects.filter(action="program.roster_import").last()
    assert event.detail["warnings"] == 1

    login(client, employer_admin)  # the page shows the warning under the report
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    moved = lean.replace("W3,Walk,Three,1980-01-01,2026-01-01", "W3,Walk,Three,1980-01-01,2098-01-01")
    upload = SimpleUploadedFile("r.csv", moved.encode(), "text/csv")
    page = client.post(reverse("programs:roster", kwargs={"pk": employer_program.pk}), {"file": upload})
    body = page.content.decode()
    assert 'id="roster-warnings"' in body and "ends the member" in body and "the header is line 1" in body
