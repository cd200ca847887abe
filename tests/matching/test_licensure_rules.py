"""Licensure as admin-editable data: seeded from the shipped files, read by matching, audited when edited."""

from __future__ import annotations

import datetime as dt

import pytest

from konsil.accounts.roles import Role
from konsil.audit.models import AuditEvent
from konsil.matching import licensure
from konsil.matching.models import LicensureRule

from ..factories import make_user


def test_the_migration_seeds_every_shipped_row(db):
    shipped = licensure.load()
    assert LicensureRule.objects.filter(kind="state").count() == len(shipped.states)
    assert LicensureRule.objects.filter(kind="country").count() == len(shipped.countries)
    tx = LicensureRule.objects.get(kind="state", code="TX")
    assert tx.direct_to_patient == shipped.states["TX"].direct_to_patient and tx.source and tx.as_of


def test_load_table_reads_the_database(db):
    assert licensure.load_table() == licensure.load()  # the seeded copy equals the files
    LicensureRule.objects.filter(kind="state", code="NV").update(direct_to_patient="allowed", source="NV board",
                                                                  as_of=dt.date(2026, 1, 2))
    table = licensure.load_table()
    assert table.states["NV"].direct_to_patient == "allowed" and table.states["NV"].source == "NV board"
    decision = licensure.eligibility("NV", "patient", ["CA"], table=table)
    assert decision.eligible and decision.code == licensure.OUT_OF_STATE_ALLOWED
    assert not licensure.eligibility("NV", "patient", ["CA"]).eligible  # the CSV still says consult_only


def test_an_empty_table_falls_back_to_the_files(db):
    LicensureRule.objects.all().delete()
    assert licensure.load_table() == licensure.load()


def test_without_a_database_the_files_are_used(monkeypatch):
    from django.db import DatabaseError

    def broken(*_a, **_k):
        raise DatabaseError("no such table")

    monkeypatch.setattr(LicensureRule.objects, "all", broken)
    assert licensure.load_table() == licensure.load()


@pytest.fixture
def staff(network):
    user = make_user(Role.ORG_ADMIN, network, is_staff=True, is_superuser=True)
    return user


def test_admin_edits_a_rule_and_the_edit_is_audited(client, login, staff):
    login(client, staff)
    rule = LicensureRule.objects.get(kind="state", code="NV")
    url = f"/admin/matching/licensurerule/{rule.pk}/change/"
    assert client.get(url).status_code == 200
    data = {"kind": "state", "code": "nv", "name": "Nevada", "direct_to_patient": "allowed", "imlc_member": "on",
            "source": "Nevada board letter", "as_of": "2026-03-01", "notes": ""}
    response = client.post(url, data)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.direct_to_patient, rule.code, rule.updated_by) == ("allowed", "NV", staff)
    event = AuditEvent.objects.filter(action="matching.licensure_rule_changed").latest("seq")
    assert event.detail["code"] == "NV" and event.actor == staff


def test_admin_refuses_a_bad_rule(client, login, staff):
    login(client, staff)
    response = client.post("/admin/matching/licensurerule/add/", {
        "kind": "state", "code": "ZZ", "name": "", "direct_to_patient": "sometimes", "source": "", "as_of": "x"})
    assert response.status_code == 200 and b"errorlist" in response.content
    assert not LicensureRule.objects.filter(code="ZZ").exists()
