"""Bulk import of specialists: per-row report, no half-saved row, the page and the CLI function."""

from __future__ import annotations

import io
import json

import pytest

from konsil.accounts.models import User
from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.core.errors import ValidationFailed
from konsil.matching import commands
from konsil.matching.importing import import_specialists
from konsil.matching.models import Specialist

from ..factories import make_specialist, make_user, valid_npi

HEADER = ("email,first_name,last_name,npi,specialties,subspecialties,languages,licenses,board_certifications,imlc,"
          "capacity,turnaround_hours,delivery_modes,in_person_location,fee,on_time_rate,affiliations\n")


def csv_file(*rows: str) -> io.BytesIO:
    return io.BytesIO((HEADER + "".join(r + "\n" for r in rows)).encode())


GOOD = (f"ada@example.test,Ada,Lovel,{valid_npi(900001)},cardiology,electrophysiology,en;es,"
        "CA:A1:2030-01-31;NY:N2:2030-02-28,ABIM:cardiology:2031-12-31,true,7,48,written;in_person,Main St clinic,"
        "350.50,0.9,Riverside General;St Mary")


def test_csv_rows_are_saved_or_reported(network, coordinator):
    bad_npi = "bob@example.test,Bob,B,1234567890,cardiology,,en,,,,5,72,written,,,,"
    bad_many = (f"cy@example.test,Cy,C,{valid_npi(900002)},nope,,EN,CA:x:notadate,,maybe,-1,0,fax,,-3,1.5,")
    report = import_specialists(csv_file(GOOD, bad_npi, bad_many), fmt="csv", network=network, actor=coordinator)
    assert [(r.row, r.ok, r.action) for r in report.rows] == [(2, True, "created"), (3, False, ""), (4, False, "")]
    assert set(report.rows[1].errors) == {"npi"}
    assert set(report.rows[2].errors) == {"specialties", "languages", "licenses", "imlc", "capacity",
                                          "turnaround_hours", "delivery_modes", "fee", "on_time_rate"}
    ada = Specialist.objects.get(npi=valid_npi(900001))
    assert ada.network == network and ada.user.first_name == "Ada" and ada.imlc and ada.capacity == 7
    assert sorted(ada.licenses.values_list("state", flat=True)) == ["CA", "NY"]
    assert list(ada.subspecialties.values_list("code", flat=True)) == ["electrophysiology"]
    assert ada.board_certifications == [{"board": "ABIM", "specialty": "cardiology", "expires_on": "2031-12-31"}]
    assert ada.affiliations == ["Riverside General", "St Mary"] and str(ada.fee) == "350.50"
    assert ada.user.memberships.filter(organization=network, role=Role.SPECIALIST).exists()
    assert not ada.user.has_usable_password()
    assert not User.objects.filter(email__in=["bob@example.test", "cy@example.test"]).exists()
    event = AuditEvent.objects.filter(action="matching.import").latest("seq")
    assert event.detail == {"format": "csv", "created": 1, "updated": 0, "failed": 2}


def test_jsonl_updates_by_npi_and_reports_bad_lines(network, coordinator, specialist):
    lines = [
        json.dumps({"email": specialist.user.email, "npi": specialist.npi, "specialties": ["cardiology"],
                    "languages": ["en"], "capacity": 9, "time_zone": "America/Chicago",
                    "availability": [{"day": 0, "start": "09:00", "end": "12:00"}]}),
        "{not json",
        "[1, 2]",
        json.dumps({"email": "x@example.test", "npi": valid_npi(900003), "specialties": ["cardiology"],
                    "languages": ["en"], "time_zone": "Mars/Olympus", "colour": "blue"}),
        "",
    ]
    report = import_specialists(io.StringIO("\n".join(lines)), fmt="jsonl", network=network, actor=coordinator)
    assert [(r.row, r.ok) for r in report.rows] == [(1, True), (2, False), (3, False), (4, False)]
    assert report.rows[0].action == "updated" and report.updated == 1
    assert set(report.rows[3].errors) == {"time_zone", "colour"}
    specialist.refresh_from_db()
    assert specialist.capacity == 9 and specialist.time_zone == "America/Chicago"
    assert specialist.licenses.count() == 1  # licenses untouched when the row gives none


def test_rows_that_clash_are_refused_whole(network, other_network, coordinator, specialist):
    foreign = make_specialist(other_network)
    profiled = make_specialist(network)
    rows = [
        {"email": foreign.user.email, "npi": foreign.npi},  # another network's NPI
        {"email": "new@example.test", "npi": specialist.npi},  # an NPI registered with another email
        {"email": profiled.user.email, "npi": valid_npi(900010)},  # a person with a profile already
        {"email": "twice@example.test", "npi": valid_npi(900011)},
        {"email": "twice@example.test", "npi": valid_npi(900012)},  # same email twice in the file
        {"email": "io@example.test", "npi": valid_npi(900013), "delivery_modes": ["in_person"]},
    ]
    text = "\n".join(json.dumps({"specialties": ["cardiology"], "languages": ["en"], **r}) for r in rows)
    report = import_specialists(io.StringIO(text), fmt="jsonl", network=network, actor=coordinator)
    assert [(r.ok, sorted(r.errors)) for r in report.rows] == [
        (False, ["npi"]), (False, ["email"]), (False, ["email"]), (True, []), (False, ["email"]),
        (False, ["in_person_location"])]
    assert not User.objects.filter(email="new@example.test").exists()
    assert Specialist.objects.filter(npi=valid_npi(900010)).count() == 0


@pytest.mark.parametrize(("payload", "fmt", "message"), [
    (b"\xff\xfe\x00bad", "csv", "not UTF-8"),
    (b"email,npi\nx@example.test,1\n", "csv", "Missing columns: specialties, languages"),
    (b"", "jsonl", "no rows"),
])
def test_file_level_errors(network, coordinator, payload, fmt, message):
    report = import_specialists(io.BytesIO(payload), fmt=fmt, network=network, actor=coordinator)
    assert message in report.file_error and report.rows == []


def test_an_unknown_format_is_refused(network, coordinator):
    with pytest.raises(ValidationFailed) as exc:
        import_specialists(io.BytesIO(b""), fmt="xlsx", network=network, actor=coordinator)
    assert exc.value.field == "fmt"


def test_the_import_page(client, login, network, coordinator):
    login(client, coordinator)
    assert client.get("/matching/import/").status_code == 200
    upload = io.BytesIO((HEADER + GOOD + "\n").encode())
    upload.name = "people.csv"
    response = client.post("/matching/import/", {"network": network.pk, "fmt": "csv", "file": upload})
    assert response.status_code == 200
    assert b"1 created, 0 updated, 0 with errors" in response.content
    bad = io.BytesIO(b"\xff\xfe")
    bad.name = "x.csv"
    response = client.post("/matching/import/", {"network": network.pk, "fmt": "csv", "file": bad})
    assert response.status_code == 400 and b"not UTF-8" in response.content


def test_the_import_page_is_for_coordinators_of_the_network(client, login, network, other_network, patient_user):
    client.force_login(patient_user)
    assert client.get("/matching/import/").status_code == 403
    other = make_user(Role.COORDINATOR, other_network)
    login(client, other)
    upload = io.BytesIO((HEADER + GOOD + "\n").encode())
    upload.name = "people.csv"
    response = client.post("/matching/import/", {"network": network.pk, "fmt": "csv", "file": upload})
    assert response.status_code == 400 and not Specialist.objects.filter(npi=valid_npi(900001)).exists()


def test_the_cli_function(network, tmp_path):
    path = tmp_path / "people.jsonl"
    path.write_text(json.dumps({"email": "cli@example.test", "npi": valid_npi(900020), "specialties": ["cardiology"],
                                "languages": ["en"]}) + "\n{bad\n")
    out, err = io.StringIO(), io.StringIO()
    assert commands.import_specialists(path, network=network.slug, out=out, err=err) == 1
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("ok") for line in lines[:2]] == [True, False]
    assert lines[-1] == {"created": 1, "updated": 0, "failed": 1}
    assert commands.import_specialists(path, network="nope", out=out, err=err) == 2
    assert commands.import_specialists(tmp_path / "missing.csv", network=network.slug, out=out, err=err) == 1
