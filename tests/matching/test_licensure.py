"""Licensure as data: the shipped table, validation of edited files, and the eligibility decision."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from konsil.matching import licensure
from konsil.matching.licensure import LicensureDataError, eligibility

JURISDICTIONS = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME",
    "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "PR",
}
HEADER = "state,name,direct_to_patient,imlc_member,source,as_of,notes\n"
COUNTRIES = "country,name,direct_to_patient,source,as_of,notes\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def custom(tmp_path):
    """A small table with one state of each kind (allowed / consult_only / not_allowed)."""
    us = write(tmp_path, "us.csv", HEADER + "ZA,Allowland,allowed,true,ref a,2025-01-01,\n"
               "ZC,Consultland,consult_only,true,ref c,2025-01-01,\n"
               "ZN,Noland,not_allowed,false,ref n,2025-01-01,\n")
    countries = write(tmp_path, "c.csv", COUNTRIES + "FR,France,allowed,ref f,2025-01-01,\n")
    return licensure.load(us, countries)


def test_shipped_table_covers_every_state_dc_and_pr_with_sources():
    table = licensure.load()
    assert set(table.states) == JURISDICTIONS
    for rule in table.states.values():
        assert rule.direct_to_patient in licensure.DIRECT_VALUES
        assert rule.source and isinstance(rule.as_of, dt.date) and rule.as_of <= dt.date.today()
    assert table.countries, "a countries file ships too"
    assert licensure.load() is table  # cached


def test_shipped_table_file_has_the_documented_columns():
    with licensure.US_FILE.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames[:6] == ["state", "name", "direct_to_patient", "imlc_member", "source", "as_of"]
    assert len(rows) == 52


def test_licensed_in_the_patients_state_is_always_eligible():
    d = eligibility("TX", "patient", ["ca", "TX"], False)
    assert (d.eligible, d.code, d.rule) == (True, licensure.LICENSED, "licensed in TX")


def test_consult_only_state_allows_clinician_referrals_only():
    d = eligibility("CA", "clinician", ["NY"], False)
    assert d.eligible and d.code == licensure.CONSULTATION
    assert d.rule == "CA allows out-of-state consultation with a local physician (clinician referral)"
    for channel in ("patient", "payer", "employer"):
        d = eligibility("CA", channel, ["NY"], True)
        assert not d.eligible and d.code == licensure.NEEDS_LOCAL_PHYSICIAN
        assert "only in consultation with a local physician" in d.rule
        assert "IMLC" not in d.rule  # California is not a compact member


def test_not_allowed_state_requires_its_licence_even_for_referrals():
    d = eligibility("TX", "clinician", ["NY"], False)
    assert not d.eligible and d.code == licensure.NEEDS_LICENCE
    assert d.rule == "not licensed in TX and TX requires a Texas licence"


def test_imlc_is_noted_but_grants_nothing():
    table = licensure.load()
    assert table.states["AL"].imlc_member and table.states["AL"].direct_to_patient == "not_allowed"
    with_imlc = eligibility("AL", "patient", ["GA"], True)
    assert not with_imlc.eligible
    assert with_imlc.rule.endswith("could obtain an expedited licence via IMLC")
    assert "IMLC" not in eligibility("AL", "patient", ["GA"], False).rule


def test_allowed_state_in_an_edited_table(custom):
    for channel in licensure.CHANNELS:
        d = eligibility("ZA", channel, [], False, table=custom)
        assert d.eligible and d.code == licensure.OUT_OF_STATE_ALLOWED
    assert eligibility("ZC", "clinician", [], False, table=custom).eligible
    assert not eligibility("ZC", "payer", [], False, table=custom).eligible
    assert not eligibility("ZN", "clinician", [], True, table=custom).eligible
    assert licensure.allows_without_licence("ZA", "patient", table=custom)
    assert not licensure.allows_without_licence("ZN", "clinician", table=custom)


def test_unknown_or_missing_jurisdiction_is_not_eligible():
    d = eligibility("GU", "clinician", ["CA"], True)
    assert not d.eligible and d.code == licensure.UNKNOWN_JURISDICTION and "GU" in d.rule
    assert eligibility("GU", "clinician", ["GU"], False).eligible  # but a licence there counts
    missing = eligibility(None, "clinician", ["CA"], False)
    assert not missing.eligible and missing.code == licensure.UNKNOWN_JURISDICTION
    assert not licensure.allows_without_licence(None, "clinician")


def test_countries_are_configured_the_same_way(custom):
    gb = eligibility(None, "clinician", ["CA"], False, country="GB")
    assert gb.eligible and gb.code == licensure.CONSULTATION and "GB" in gb.rule
    assert not eligibility(None, "patient", ["CA"], False, country="GB").eligible
    assert eligibility(None, "patient", [], False, country="GB", licensed_countries=["gb"]).code == licensure.LICENSED
    # A California licence is not a Canadian one.
    assert not eligibility("CA", "patient", ["CA"], False, country="CA").eligible
    assert eligibility(None, "patient", [], False, country="FR", table=custom).eligible
    unknown = eligibility(None, "clinician", [], False, country="ZZ")
    assert not unknown.eligible and unknown.code == licensure.UNKNOWN_JURISDICTION


def test_unknown_channel_is_a_programming_error():
    with pytest.raises(ValueError, match="channel"):
        eligibility("CA", "fax", ["CA"], False)


@pytest.mark.parametrize(("row", "message"), [
    ("CA,California,sometimes,true,ref,2025-01-01,", ":2: direct_to_patient"),
    ("CA,California,allowed,maybe,ref,2025-01-01,", ":2: imlc_member"),
    ("CA,California,allowed,true,,2025-01-01,", ":2: source"),
    ("CA,California,allowed,true,ref,June 2025,", ":2: as_of"),
    ("California,California,allowed,true,ref,2025-01-01,", ":2: state"),
    ("CA,California,allowed,true,ref,2025-01-01,\nCA,Again,allowed,true,ref,2025-01-01,", ":3: state: duplicate"),
])
def test_bad_rows_name_the_line_and_field(tmp_path, row, message):
    path = write(tmp_path, "us.csv", HEADER + row + "\n")
    with pytest.raises(LicensureDataError, match=message):
        licensure.read_rules(path, key="state")


def test_bad_files_raise_a_clear_error(tmp_path):
    with pytest.raises(LicensureDataError, match="missing columns: as_of, source"):
        licensure.read_rules(write(tmp_path, "a.csv", "state,name,direct_to_patient,imlc_member\n"), key="state")
    with pytest.raises(LicensureDataError, match="cannot be read"):
        licensure.read_rules(tmp_path / "absent.csv", key="state")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(HEADER.encode() + "CA,Califórnia,allowed,true,ref,2025-01-01,\n".encode("latin-1"))
    with pytest.raises(LicensureDataError, match="cannot be read"):
        licensure.read_rules(bad, key="state")
    with pytest.raises(LicensureDataError):
        licensure.load(tmp_path / "absent.csv")
