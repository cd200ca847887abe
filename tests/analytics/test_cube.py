"""The monthly cells give exactly the figures of the fact rows, and the refresh keeps them so."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from konsil.accounts.roles import OrganizationKind
from konsil.analytics import cube, measures, query, rollup
from konsil.analytics.measures import Filters, Scope
from konsil.analytics.models import CaseFact, Cell

from ..factories import OrganizationFactory
from .builders import make_case

TODAY = dt.date(2026, 3, 15)


@pytest.fixture
def sponsor(db):
    return OrganizationFactory(name="Acme Employer", kind=OrganizationKind.EMPLOYER, slug="acme-cube")


@pytest.fixture
def varied(network, sponsor):
    """Cases over three months (one at a month boundary), stages, offers, verdicts, states, a sponsor."""
    full = {"triaged": "2026-01-05 02:00", "offered": "2026-01-05 05:00", "accepted": "2026-01-06 05:00",
            "delivered": "2026-01-09 05:00"}
    make_case(network, submitted="2026-01-05 00:00", stages=full, diagnosis="confirmed", treatment="agree",
              offers=("declined", "accepted"), agreed=True, state="WY", county="56001")
    make_case(network, submitted="2026-01-05 00:00", stages={"triaged": "2026-01-05 07:00"}, agreed=False,
              specialty="medical_oncology", channel="payer", state="CA", county="06037", language="es",
              interpreter=True)
    make_case(network, submitted="2026-01-31 23:30", specialty="breast_oncology", channel="employer", sponsor=sponsor,
              stages={"triaged": "2026-02-01 01:00", "offered": "2026-02-01 04:00", "accepted": "2026-02-02 04:00",
                      "delivered": "2026-02-05 10:00"}, diagnosis="changed", treatment="against", breached=True)
    make_case(network, submitted="2026-02-14 12:00", channel="employer", sponsor=sponsor, state="TX",
              urgency="urgent", delivery="video")
    make_case(network, submitted="2026-03-02 09:00", specialty="medical_oncology", state="TX",
              stages={"triaged": "2026-03-02 10:00"})
    rollup.refresh(full=True)


def both(scope, **filters):
    filters = Filters(**filters)
    return (measures.summary(scope, filters, today=TODAY, source="cells"),
            measures.summary(scope, filters, today=TODAY, source="facts"))


FILTERS = [
    {},
    {"start": dt.date(2026, 1, 1), "end": dt.date(2026, 1, 31)},
    {"start": dt.date(2026, 2, 1), "end": TODAY},
    {"start": dt.date(2026, 1, 15), "end": dt.date(2026, 2, 20)},  # cuts two months: their facts are read
    {"specialty": "medical_oncology"},
    {"specialty": "cardiology", "start": dt.date(2026, 1, 1)},
    {"channel": "employer"},
    {"state": "TX"},
    {"state": "TX", "channel": "employer"},  # two sliced filters: the fact path
    {"program": "no-such-program"},
]


@pytest.mark.django_db
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_cells_give_the_same_figures_as_the_facts(network, varied, filters):
    cells, facts = both(Scope(kind="network", name="n", networks=(network.pk,)), **filters)
    assert cells == facts
    assert cells["volume"]["total"] == facts["volume"]["total"]


@pytest.mark.django_db
def test_a_sponsor_view_from_cells_is_the_same_and_suppressed(network, sponsor, varied):
    cells, facts = both(Scope(kind="sponsor", name="s", sponsors=(sponsor.pk,), suppress=True))
    assert cells == facts
    assert cells["volume"]["total"] is None or cells["volume"]["total"] != 2  # 2 cases: suppressed (< 11)


@pytest.mark.django_db
def test_whole_months_are_read_from_the_cells_only(network, varied):
    scope = Scope(kind="network", name="n", networks=(network.pk,))
    before = measures.summary(scope, Filters(start=dt.date(2026, 1, 1)), today=TODAY)
    assert before["volume"]["total"] == 5
    CaseFact.objects.all().delete()  # the cells alone answer whole months
    assert measures.summary(scope, Filters(start=dt.date(2026, 1, 1)), today=TODAY) == before
    assert measures.summary(scope, Filters(start=dt.date(2026, 1, 1)), today=TODAY, source="facts")[
        "volume"]["total"] == 0


@pytest.mark.django_db
def test_which_filters_the_cells_answer(network, varied):
    where = query.Where(networks=(network.pk,))
    assert cube.rows(where) is not None
    assert cube.rows(query.Where(networks=(network.pk,), state="TX")) is not None
    assert cube.rows(query.Where(networks=(network.pk,), state="TX", channel="payer")) is None
    assert cube.rows(query.Where()) == cube.Sum().result()  # no network, no sponsor: nothing
    assert cube.rows(query.Where())["total"] == [dict.fromkeys(query.ALL, 0)]


@pytest.mark.django_db
def test_no_cases_no_cells_and_zeros(network):
    rollup.refresh(full=True)
    assert not Cell.objects.exists()
    cells, facts = both(Scope(kind="network", name="n", networks=(network.pk,)))
    assert cells == facts and cells["volume"]["total"] == 0


@pytest.mark.django_db
def test_incremental_refresh_moves_a_case_between_months_and_channels(network, varied):
    scope = Scope(kind="network", name="n", networks=(network.pk,))
    case = make_case(network, submitted="2026-03-03 08:00")
    run = rollup.refresh()
    assert not run.full
    cells, facts = both(scope)
    assert cells == facts and cells["volume"]["total"] == 6
    case.submitted_at = dt.datetime(2026, 1, 20, tzinfo=dt.UTC)
    case.channel = "payer"
    case.save()
    rollup.refresh()
    cells, facts = both(scope)
    assert cells == facts
    months = {m["key"]: m["count"] for m in cells["volume"]["by_month"]}
    assert months == {"2026-01": 4, "2026-02": 1, "2026-03": 1}
    assert Cell.objects.filter(network=network, month=dt.date(2026, 1, 1), slice="channel", value="payer").exists()


@pytest.mark.django_db
def test_month_boundary_follows_the_reporting_time_zone(network, settings):
    settings.TIME_ZONE = "America/New_York"
    make_case(network, submitted="2026-02-01 03:00")  # 22:00 on 31 January in New York
    rollup.refresh(full=True)
    cells, facts = both(Scope(kind="network", name="n", networks=(network.pk,)))
    assert cells == facts
    assert [m["key"] for m in cells["volume"]["by_month"] if m["count"]] == ["2026-01"]


def test_amounts_add_up_exactly_in_cents():
    total = cube.Sum()
    rows = {name: [] for name in query.SETS}
    rows["total"] = [{**dict.fromkeys(query.ALL, 0), "n": 1, "cost_n": 1, "cost_sum": Decimal("-1234.56")}]
    total.add_rows(rows)
    total.add_rows({**rows, "total": [{**rows["total"][0], "cost_sum": Decimal("0.45")}]})
    figures = total.result()["total"][0]
    assert (figures["n"], figures["cost_n"], figures["cost_sum"]) == (2, 2, Decimal("-1234.11"))


@pytest.mark.django_db
def test_facts_without_cells_are_read_from_the_facts_until_the_refresh_builds_every_cell(network, varied):
    scope = Scope(kind="network", name="n", networks=(network.pk,))
    Cell.objects.all().delete()  # as after the upgrade that added the cells
    cells, facts = both(scope)
    assert cells == facts and cells["volume"]["total"] == 5
    run = rollup.refresh()  # nothing changed, yet every month's cells are built
    assert not run.full
    assert set(Cell.objects.values_list("month", flat=True)) == {dt.date(2026, m, 1) for m in (1, 2, 3)}
    CaseFact.objects.all().delete()
    assert measures.summary(scope, Filters(), today=TODAY)["volume"]["total"] == 5
