"""The programs API: JSON errors per field, the payer sees determinations only, roster upload, invoices."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ..factories import api_token, valid_npi
from .conftest import add_member


def api(client, user):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_token(user)}"
    return client


def post(client, path, data):
    return client.post(path, json.dumps(data), content_type="application/json")


def test_program_read_patch_and_errors(client, employer_program, employer_admin, payer_admin):
    c = api(client, employer_admin)
    base = f"/api/v1/programs/{employer_program.pk}/"
    assert [p["slug"] for p in c.get("/api/v1/programs/").json()] == ["acme-so"]
    assert c.get(base).json()["case_rates"] == {"written": 75000, "video": 90000}
    ok = c.patch(base, json.dumps({"welcome": "Ask a leading specialist."}), content_type="application/json")
    assert ok.status_code == 200 and ok.json()["welcome"] == "Ask a leading specialist."
    priced = c.patch(base, json.dumps({"self_pay_cents": 0}), content_type="application/json")
    assert priced.status_code == 403 and priced.json()["code"] == "price_terms"  # the network sets prices
    same = c.patch(base, json.dumps({"self_pay_cents": employer_program.self_pay_cents}),
                   content_type="application/json")
    assert same.status_code == 200  # the terms as they are: nothing to refuse
    for bad, field in (({"self_pay_cents": 10**30}, "self_pay_cents"), ({"services": ["x"]}, "services"),
                       ({"contacts": [{"name": "A"}]}, "contacts"), ({"accent": "#12"}, "accent")):
        response = c.patch(base, json.dumps(bad), content_type="application/json")
        assert response.status_code == 400 and field in response.json()["errors"], bad
    assert c.patch(base, "[1, 2]", content_type="application/json").status_code == 400
    other = api(client.__class__(), payer_admin)
    assert other.get(base).status_code == 404


def test_eligibility_endpoint(client, employer_program, member, employer_admin):
    c = api(client, employer_admin)
    path = f"/api/v1/programs/{employer_program.pk}/eligibility/"
    got = post(c, path, {"member_id": "E100", "birth_date": "1980-01-01", "family_name": "Doe"})
    assert got.status_code == 200 and got.json()["eligible"] is True
    bad = post(c, path, {"member_id": "E100", "birth_date": "1980-02-30", "family_name": "Doe"})
    assert bad.status_code == 400 and "birth_date" in bad.json()["errors"]
    deep = post(c, path, {"member_id": [[[[["E"]]]]], "birth_date": "1980-01-01", "family_name": "Doe"})
    assert deep.status_code == 400


def test_roster_upload_endpoint(client, employer_program, employer_admin):
    c = api(client, employer_admin)
    path = f"/api/v1/programs/{employer_program.pk}/roster/"
    csv = b"member_id,given_name,family_name,birth_date,coverage_start\nR1,Al,Bo,1970-01-01,2026-01-01\n"
    got = c.post(path, {"file": SimpleUploadedFile("r.csv", csv)})
    assert got.status_code == 200 and got.json()["added"] == 1
    assert c.post(path, {}).status_code == 400
    assert c.post(path, {"file": SimpleUploadedFile("r.csv", b"x"), "format": "xml"}).status_code == 400


def test_payer_sees_determinations_not_the_narrative(client, payer_program, payer_admin):
    add_member(payer_program, "P5", family_name="Roe")
    c = api(client, payer_admin)
    path = f"/api/v1/programs/{payer_program.pk}/mandates/"
    made = post(c, path, {"member_id": "P5", "requesting_npi": valid_npi(5), "cpt": "43644",
                          "procedure_text": "Roux-en-Y gastric bypass", "diagnoses": ["E66.01"]})
    assert made.status_code == 201
    body = made.json()
    assert body["determination"] is None and "procedure_text" not in body
    assert post(c, path, {"member_id": "P5"}).status_code == 400
    assert post(c, path, {"member_id": "P5", "requesting_npi": valid_npi(5), "cpt": "43644",
                          "procedure_text": "x", "diagnoses": ["E66.01"]}).status_code == 409
    listed = c.get(path).json()
    assert listed[0]["member_id"] == "P5"
    assert c.get(path + f"{body['id']}/").status_code == 200
    assert c.get(path + "00000000-0000-0000-0000-000000000000/").status_code == 404
    assert c.get(f"/api/v1/programs/{payer_program.pk}/events/").status_code == 200


@pytest.mark.parametrize("data", [{"period_start": "2026-02-01", "period_end": "2026-01-01"}, {}, []])
def test_invoice_errors(client, employer_program, coordinator, data):
    c = api(client, coordinator)
    response = post(c, f"/api/v1/programs/{employer_program.pk}/invoices/", data)
    assert response.status_code == 400


def test_dashboard_endpoint_suppresses_small_counts(client, employer_program, employer_admin):
    for i in range(3):
        add_member(employer_program, f"D{i}")
    c = api(client, employer_admin)
    figures = c.get(f"/api/v1/programs/{employer_program.pk}/dashboard/").json()
    covered = next(f for f in figures if f["label"] == "Covered members today")
    assert covered["value"] == "<11"


def test_roster_members_endpoint(client, employer_program, employer_admin, coordinator):
    import datetime as dt

    from django.utils import timezone

    from konsil.audit.models import AuditEvent

    add_member(employer_program, "E100")
    add_member(employer_program, "E100-01", subscriber_id="E100", relationship="child", given_name="Jim",
               birth_date=dt.date(2014, 3, 9))
    add_member(employer_program, "E200", coverage_end=timezone.localdate() - dt.timedelta(days=1))
    c = api(client, employer_admin)
    path = f"/api/v1/programs/{employer_program.pk}/roster/"
    body = c.get(path).json()
    assert body["count"] == 3 and [m["member_id"] for m in body["results"]] == ["E100", "E100-01", "E200"]
    assert body["results"][0]["coverage"] == "covered" and body["results"][2]["coverage"] == "ended"
    assert body["results"][1]["birth_date"] == "2014-03-09" and body["results"][1]["relationship"] == "child"
    assert [m["member_id"] for m in c.get(path, {"member_id": "E100"}).json()["results"]] == ["E100", "E100-01"]
    assert [m["member_id"] for m in c.get(path, {"birth_date": "2014-03-09"}).json()["results"]] == ["E100-01"]
    assert c.get(path, {"coverage": "ended", "limit": 1}).json()["count"] == 1
    bad = c.get(path, {"birth_date": "2014-02-30", "coverage": "lapsed", "member_id": "x" * 41})
    assert bad.status_code == 400 and {"birth_date", "coverage", "member_id"} <= set(bad.json()["errors"])
    assert AuditEvent.objects.filter(action="program.member_list").count() == 3 + 2 + 1 + 1
    assert api(client.__class__(), coordinator).get(path).status_code == 404
