"""Input validation, hard constraints and the explainable soft score (pure functions over plain dicts)."""

from __future__ import annotations

import pytest

from konsil.matching import scoring
from konsil.matching.scoring import InputError, Weights, check, evaluate, parse_case, parse_specialist, score


def make_case(**kw):
    raw = {"id": "c1", "specialty": "cardiology", "state": "CA", "language": "en", "urgency": "routine",
           "channel": "patient"}
    return parse_case({**raw, **kw})


def make_spec(**kw):
    raw = {"id": "s1", "specialties": ["cardiology"], "licensed_states": ["CA"], "imlc": False,
           "languages": ["en", "es"], "capacity": 4, "institution": "General", "turnaround_hours": 84,
           "quality": 0.8}
    return parse_specialist({**raw, **kw})


# --- validation --------------------------------------------------------------------------------------------------

def test_parse_case_fills_defaults_and_normalizes():
    case = parse_case({"id": 7, "specialty": "cardiology", "state": "ca", "language": "ES", "urgency": "stat",
                       "channel": "clinician"})
    assert case["id"] == "7" and case["state"] == "CA" and case["language"] == "es" and case["country"] == "US"
    assert case["declined_by"] == [] and case["interpreter"] is False and case["delivery"] is None
    abroad = parse_case({"id": 1, "specialty": "cardiology", "country": "gb", "language": "en",
                         "urgency": "routine", "channel": "patient"})
    assert abroad["country"] == "GB" and abroad["state"] is None


@pytest.mark.parametrize(("change", "field"), [
    ({"id": None}, "id"), ({"id": True}, "id"), ({"id": " "}, "id"),
    ({"specialty": "astrology"}, "specialty"), ({"subspecialty": "nope"}, "subspecialty"),
    ({"state": "California"}, "state"), ({"state": None}, "state"), ({"language": "eng"}, "language"),
    ({"urgency": "soon"}, "urgency"), ({"urgency": None}, "urgency"), ({"channel": "fax"}, "channel"),
    ({"interpreter": "yes"}, "interpreter"), ({"delivery": "pigeon"}, "delivery"),
    ({"institution_excluded": "General"}, "institution_excluded"), ({"declined_by": [{}]}, "declined_by"),
    ({"utc_offset": 20}, "utc_offset"), ({"utc_offset": "5"}, "utc_offset"),
    ({"subspecialty_required": True}, "subspecialty"),
])
def test_bad_case_fields_are_named(change, field):
    raw = {"id": "c1", "specialty": "cardiology", "state": "CA", "language": "en", "urgency": "routine",
           "channel": "patient", **change}
    raw = {k: v for k, v in raw.items() if v is not None or k not in ("id", "state", "urgency")}
    with pytest.raises(InputError) as exc:
        parse_case(raw)
    assert exc.value.field == field


def test_records_must_be_objects():
    with pytest.raises(InputError, match="record"):
        parse_case(["c1"])
    with pytest.raises(InputError, match="record"):
        parse_specialist("s1")


@pytest.mark.parametrize(("change", "field"), [
    ({"specialties": []}, "specialties"), ({"specialties": ["astrology"]}, "specialties"),
    ({"licensed_states": ["California"]}, "licensed_states"), ({"licensed_states": None}, "licensed_states"),
    ({"languages": []}, "languages"), ({"capacity": -1}, "capacity"), ({"capacity": "5"}, "capacity"),
    ({"capacity": 2.5}, "capacity"), ({"capacity": True}, "capacity"), ({"capacity": None}, "capacity"),
    ({"quality": 1.5}, "quality"), ({"turnaround_hours": 0}, "turnaround_hours"),
    ({"turnaround_hours": float("nan")}, "turnaround_hours"), ({"imlc": "true"}, "imlc"),
    ({"delivery_modes": ["fax"]}, "delivery_modes"), ({"subspecialties": ["x"]}, "subspecialties"),
    ({"institution": 3}, "institution"), ({"fee": -5}, "fee"),
])
def test_bad_specialist_fields_are_named(change, field):
    raw = {"id": "s1", "specialties": ["cardiology"], "licensed_states": ["CA"], "imlc": False,
           "languages": ["en"], "capacity": 4, "institution": "General", "turnaround_hours": 84, **change}
    with pytest.raises(InputError) as exc:
        parse_specialist(raw)
    assert exc.value.field == field


def test_weights_are_validated():
    with pytest.raises(ValueError):
        Weights(quality=-1)
    with pytest.raises(ValueError):
        Weights(fee_ceiling=0)


# --- hard constraints --------------------------------------------------------------------------------------------

def test_feasible_pair_explains_what_was_checked():
    feasible, reasons = check(make_case(), make_spec())
    assert feasible
    assert "practises Cardiology" in reasons and "licensed in CA" in reasons
    assert "speaks the patient's language (en)" in reasons


@pytest.mark.parametrize(("case_kw", "spec_kw", "expected"), [
    ({}, {"specialties": ["dermatology"]}, "does not practise Cardiology"),
    ({"specialty": "electrophysiology"}, {}, "does not practise Cardiac Electrophysiology"),
    ({"subspecialty": "electrophysiology", "subspecialty_required": True}, {},
     "does not practise Cardiac Electrophysiology, which this case requires"),
    ({"state": "NY"}, {}, "not licensed in NY and NY allows out-of-state opinions only in consultation"),
    ({"state": "TX", "channel": "clinician"}, {}, "not licensed in TX and TX requires a Texas licence"),
    ({"language": "ja"}, {}, "does not speak the patient's language (ja)"),
    ({}, {"active": 4}, "has no free case slots"),
    ({}, {"capacity": 0}, "has no free case slots"),
    ({"institution_excluded": ["General"]}, {}, "works at General, which this case excludes"),
    ({"institution_excluded": ["Mercy"]}, {"affiliations": ["Mercy"]}, "works at Mercy"),
    ({"referring_physician": "s1"}, {}, "is the referring physician"),
    ({"first_opinion_physician": "s1"}, {}, "gave the first opinion"),
    ({"declined_by": ["s1"]}, {}, "already declined this case"),
    ({"delivery": "video"}, {}, "does not offer video opinions"),
    ({}, {"accepting": False}, "is not accepting cases"),
])
def test_each_hard_constraint_blocks_with_its_reason(case_kw, spec_kw, expected):
    feasible, reasons = check(make_case(**case_kw), make_spec(**spec_kw))
    assert not feasible
    assert any(r.startswith(expected) for r in reasons), reasons


def test_subspecialists_fit_the_parent_specialty_and_interpreters_lift_language():
    assert check(make_case(), make_spec(specialties=["interventional_cardiology"]))[0]
    assert check(make_case(), make_spec(specialties=["dermatology"], subspecialties=["electrophysiology"]))[0]
    feasible, reasons = check(make_case(language="ja", interpreter=True), make_spec())
    assert feasible and any("interpreter" in r for r in reasons)
    assert check(make_case(state="NY", channel="clinician"), make_spec())[0]  # consultation exception
    assert check(make_case(delivery="video"), make_spec(delivery_modes=["written", "video"]))[0]
    assert check(make_case(subspecialty="electrophysiology", subspecialty_required=True),
                 make_spec(subspecialties=["electrophysiology"]))[0]


def test_violations_are_all_listed():
    feasible, reasons = check(make_case(language="ja", declined_by=["s1"]), make_spec(active=4))
    assert not feasible and len(reasons) == 3


# --- soft score --------------------------------------------------------------------------------------------------

def test_deadline_fit_by_urgency():
    """Against the review clock's deadlines (72 / 24 / 4 h): 0.5 exactly at the deadline."""
    assert scoring.deadline_value(4, "stat") == 0.5
    assert scoring.deadline_value(0, "stat") == 1.0
    assert scoring.deadline_value(72, "routine") == 0.5
    assert scoring.deadline_value(24, "urgent") == 0.5
    assert scoring.deadline_value(144, "routine") == pytest.approx(1 / 3)
    # Faster is always better, also where nobody can meet a STAT clock.
    assert scoring.deadline_value(24, "stat") > scoring.deadline_value(48, "stat") > 0


def test_matching_deadline_is_the_review_clock(settings):
    """A specialist matched as within the deadline is not breached by the review clock (cases.sla)."""
    from datetime import timedelta

    from konsil.cases import sla

    for urgency in ("routine", "urgent", "stat"):
        hours = sla.review_window(urgency) / timedelta(hours=1)
        assert scoring.deadline_value(hours, urgency) == 0.5
    settings.KONSIL_REVIEW_HOURS = {"routine": 120}
    assert scoring.deadline_value(120, "routine") == 0.5 and sla.review_window("routine") == timedelta(hours=120)
    reasons = score(make_case(urgency="routine"), make_spec(turnaround_hours=100)).reasons
    assert any("within the 120 h routine deadline" in r for r in reasons)


def test_score_is_a_weighted_mean_with_factors_and_reasons():
    s = score(make_case(urgency="urgent"), make_spec(turnaround_hours=8, active=1, quality=0.9))
    factors = {f["factor"]: f for f in s.factors}
    assert set(factors) == {"deadline", "load", "quality"}  # only the factors that apply
    assert factors["deadline"]["value"] == 0.75 and factors["load"]["value"] == 0.75
    assert factors["quality"]["value"] == 0.9 and factors["quality"]["weight"] == Weights().quality
    w = Weights()
    expected = (w.deadline * 0.75 + w.load * 0.75 + w.quality * 0.9) / (w.deadline + w.load + w.quality)
    assert s.value == pytest.approx(expected)
    assert "returns opinions in 8 h, within the 24 h urgent deadline" in s.reasons
    assert "3 of 4 case slots free" in s.reasons and "quality signal 0.90" in s.reasons
    late = score(make_case(urgency="stat"), make_spec(turnaround_hours=36))
    assert "returns opinions in 36 h, later than the 4 h STAT deadline" in late.reasons


def test_optional_factors_apply_when_their_data_is_there():
    case = make_case(subspecialty="electrophysiology", previous_specialists=["s1"], utc_offset=-5)
    spec = make_spec(subspecialties=["electrophysiology"], utc_offset=-8, fee=250, turnaround_hours=24)
    s = score(case, spec)
    factors = {f["factor"]: f["value"] for f in s.factors}
    assert factors == {"subspecialty": 1.0, "deadline": 0.75, "load": 1.0, "quality": 0.8, "continuity": 1.0,
                       "timezone": 0.75, "cost": 0.75}
    assert "has seen this patient before" in s.reasons and "time zones 3 h apart" in s.reasons
    other = score(case, make_spec(id="s2"))
    assert {f["factor"]: f["value"] for f in other.factors}["subspecialty"] == 0.0
    assert "has not seen this patient before" in other.reasons
    assert "fee 250 (lower fees rank higher; fees of 1000 or more get no credit)" in s.reasons
    assert "same time zone as the patient" in score(case, make_spec(utc_offset=-5)).reasons
    assert other.value < s.value
    assert any("no quality data" in r for r in score(make_case(), make_spec(quality=None)).reasons)


def test_score_bounds_and_weights():
    perfect = make_spec(turnaround_hours=1e-9, quality=1.0)
    assert score(make_case(), perfect).value == pytest.approx(1.0)
    worst = make_spec(turnaround_hours=10_000, quality=0.0, capacity=4, active=3, fee=5000)
    assert 0.0 <= score(make_case(), worst).value < 0.1
    only_quality = Weights(subspecialty=0, deadline=0, load=0, quality=1, continuity=0, timezone=0, cost=0)
    assert score(make_case(), make_spec(quality=0.3), only_quality).value == pytest.approx(0.3)
    nothing = Weights(subspecialty=0, deadline=0, load=0, quality=0, continuity=0, timezone=0, cost=0)
    assert score(make_case(), make_spec(), nothing).value == 0.0


def test_evaluate_combines_both():
    bad = evaluate(make_case(language="ja"), make_spec())
    assert not bad.feasible and bad.score is None and bad.factors == []
    good = evaluate(make_case(), make_spec())
    assert good.feasible and 0 < good.score <= 1 and good.factors and "licensed in CA" in good.reasons
