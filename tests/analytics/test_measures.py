"""Figures checked against hand-computed ones on small fixed data sets, edge cases included."""

from __future__ import annotations

import datetime as dt

import pytest

from konsil.analytics import measures, rollup
from konsil.analytics.measures import Filters, Scope

from .builders import make_case


def figures(network, **filters):
    rollup.refresh(full=True)
    return measures.summary(Scope(kind="network", name="n", networks=(network.pk,)), Filters(**filters),
                            today=dt.date(2026, 3, 15))


def stage(result, name):
    return next(s for s in result["turnaround"]["stages"] if s["stage"] == name)


@pytest.mark.django_db
def test_no_cases_gives_zeros_and_no_rates(network):
    result = figures(network)
    assert result["volume"]["total"] == 0
    assert result["volume"]["by_month"] == []
    assert all(s["n"] == 0 and s["median_hours"] is None for s in result["turnaround"]["stages"])
    assert result["turnaround"]["sla_breaches"] == {"count": 0, "of": 0, "rate": None, "ci_low": None,
                                                    "ci_high": None}
    assert result["outcomes"]["diagnosis"][0]["rate"] is None
    assert result["access"]["rural"]["of"] == 0


@pytest.mark.django_db
def test_one_case_and_a_stage_never_reached(network):
    make_case(network, submitted="2026-02-10 08:00", stages={"triaged": "2026-02-10 10:30"})
    result = figures(network)
    assert result["volume"]["total"] == 1
    assert stage(result, "submitted_triaged") == {"stage": "submitted_triaged", "from": "submitted",
                                                  "to": "triaged", "n": 1, "median_hours": 2.5, "p90_hours": 2.5}
    never = stage(result, "triaged_offered")
    assert never["n"] == 0 and never["median_hours"] is None and never["p90_hours"] is None
    assert stage(result, "submitted_delivered")["n"] == 0


@pytest.mark.django_db
def test_turnaround_medians_and_90th_percentiles(network):
    # submitted -> triaged: 1 h, 2 h, 3 h, 10 h -> median 2.5 h; p90 = 3 + 0.7 * (10 - 3) = 7.9 h
    for hours in (1, 2, 3, 10):
        make_case(network, submitted="2026-01-05 00:00", stages={"triaged": f"2026-01-05 {hours:02d}:00"})
    result = figures(network)
    assert stage(result, "submitted_triaged") == {"stage": "submitted_triaged", "from": "submitted",
                                                  "to": "triaged", "n": 4, "median_hours": 2.5, "p90_hours": 7.9}


@pytest.mark.django_db
def test_full_path_stages(network):
    make_case(network, submitted="2026-01-05 00:00", stages={
        "triaged": "2026-01-05 01:00", "offered": "2026-01-05 03:00", "accepted": "2026-01-05 09:00",
        "delivered": "2026-01-07 09:00"}, offers=("declined", "expired", "accepted"), agreed=True,
        diagnosis="refined", treatment="modify")
    result = figures(network)
    assert [(s["stage"], s["median_hours"]) for s in result["turnaround"]["stages"]] == [
        ("submitted_triaged", 1.0), ("triaged_offered", 2.0), ("offered_accepted", 6.0),
        ("accepted_delivered", 48.0), ("submitted_delivered", 57.0)]
    offers = result["turnaround"]["offers"]
    assert offers["made"] == 3 and offers["declined"]["count"] == 1 and offers["timed_out"]["count"] == 1
    assert offers["declined"]["rate"] == round(1 / 3, 4)
    assert result["turnaround"]["triage"]["confirmed"]["count"] == 1


@pytest.mark.django_db
def test_month_boundary_in_the_reporting_time_zone(network, settings):
    # 2026-02-01 03:30 UTC is still January 31 in New York; 2026-02-01 06:00 UTC is February there
    make_case(network, submitted="2026-02-01 03:30")
    make_case(network, submitted="2026-02-01 06:00")
    make_case(network, submitted="2026-01-31 12:00")
    utc = figures(network)
    assert [(m["key"], m["count"]) for m in utc["volume"]["by_month"]] == [
        ("2026-01", 1), ("2026-02", 2), ("2026-03", 0)]
    settings.TIME_ZONE = "America/New_York"
    new_york = figures(network)
    assert [(m["key"], m["count"]) for m in new_york["volume"]["by_month"]] == [
        ("2026-01", 2), ("2026-02", 1), ("2026-03", 0)]
    # the period filter counts days in the same zone
    february = measures.summary(Scope(kind="network", name="n", networks=(network.pk,)),
                                Filters(start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28)),
                                today=dt.date(2026, 3, 15))
    assert february["volume"]["total"] == 1


@pytest.mark.django_db
def test_outcome_rates_with_wilson_intervals_and_references(network):
    for verdict in ("confirmed", "confirmed", "confirmed", "changed"):
        make_case(network, submitted="2026-01-05 00:00", diagnosis=verdict, treatment="agree")
    make_case(network, submitted="2026-01-06 00:00", specialty="medical_oncology", diagnosis="refined",
              treatment="against")
    result = figures(network)
    overall = {row["verdict"]: row for row in result["outcomes"]["diagnosis"]}
    assert overall["confirmed"]["count"] == 3 and overall["confirmed"]["of"] == 5
    assert overall["confirmed"]["rate"] == 0.6
    # Wilson 95 % for 3/5: 0.2307 .. 0.8824
    assert (overall["confirmed"]["ci_low"], overall["confirmed"]["ci_high"]) == (0.2307, 0.8824)
    assert overall["changed"]["reference"]["rate"] == 0.148
    assert "Meyer" in overall["changed"]["reference"]["citation"]
    cardiology = next(r for r in result["outcomes"]["by_specialty"] if r["specialty"] == "cardiology")
    assert cardiology["cases"] == 4
    treatment = {row["verdict"]: row for row in cardiology["treatment"]}
    assert treatment["agree"]["rate"] == 1.0 and treatment["changed"]["count"] == 0
    oncology = next(r for r in result["outcomes"]["by_specialty"] if r["specialty"] == "medical_oncology")
    assert {row["verdict"]: row["count"] for row in oncology["treatment"]}["changed"] == 1


@pytest.mark.django_db
def test_filters_specialty_includes_subspecialties_and_channel(network):
    make_case(network, submitted="2026-01-05 00:00", specialty="medical_oncology", channel="payer")
    make_case(network, submitted="2026-01-05 00:00", specialty="breast_oncology", channel="patient")
    make_case(network, submitted="2026-01-05 00:00", specialty="cardiology", channel="payer")
    assert figures(network, specialty="medical_oncology")["volume"]["total"] == 2
    assert figures(network, specialty="medical_oncology", channel="payer")["volume"]["total"] == 1
    by_specialty = figures(network)["volume"]["by_specialty"]
    assert [(row["key"], row["count"]) for row in by_specialty] == [("medical_oncology", 2), ("cardiology", 1)]


@pytest.mark.django_db
def test_access_demand_supply_rural_and_deserts(network):
    from tests.factories import make_specialist

    # Wyoming: Albany County (56001, RUCC 5, non-metro); California: Los Angeles (06037, RUCC 1)
    make_case(network, submitted="2026-01-05 00:00", state="WY", county="56001")
    make_case(network, submitted="2026-01-05 00:00", state="CA", county="06037", language="es")
    make_case(network, submitted="2026-01-05 00:00", state="CA", county="")
    make_specialist(network, specialty="cardiology", states=("CA",), languages=("en", "es"), capacity=5)
    result = figures(network, start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 31))
    states = {row["state"]: row for row in result["access"]["states"]}
    assert states["WY"]["cases"] == 1 and states["WY"]["population"] == 576851
    assert states["WY"]["per_100k"] == round(100_000 / 576851, 2)
    assert states["CA"]["specialists"] == 1 and states["WY"]["specialists"] == 0
    rural = result["access"]["rural"]
    assert (rural["count"], rural["of"]) == (1, 2)  # the case without a county is not counted
    deserts = {(d["state"], d["specialty"]): d for d in result["access"]["deserts"]}
    assert deserts[("WY", "cardiology")]["reason"] == "no_specialist"
    assert ("CA", "cardiology") not in deserts  # 2 cases a month, capacity 5 x 720 / 72 = 50
    languages = {row["language"]: row for row in result["access"]["languages"]}
    assert languages["es"]["requested"] == 1 and languages["es"]["specialists"] == 1


@pytest.mark.django_db
def test_refresh_is_incremental_and_exact(network):
    case = make_case(network, submitted="2026-01-05 00:00")
    rollup.refresh(full=True)
    scope = Scope(kind="network", name="n", networks=(network.pk,))
    assert measures.summary(scope, Filters())["volume"]["by_channel"][0]["key"] == "patient"
    case.channel = "employer"
    case.save()
    run = rollup.refresh()
    assert not run.full and run.cases >= 1
    assert measures.summary(scope, Filters())["volume"]["by_channel"][0]["key"] == "employer"
