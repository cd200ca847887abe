"""Quarter, year and pooled cells: a period is covered by whole years, then quarters, then months, then the facts
of the months it cuts; the figures stay those of the fact rows."""

from __future__ import annotations

import datetime as dt

import pytest

from konsil.accounts.roles import OrganizationKind
from konsil.analytics import cube, measures, query, rollup
from konsil.analytics.measures import Filters, Scope
from konsil.analytics.models import CaseFact, Cell

from ..factories import OrganizationFactory
from .builders import make_case

TODAY = dt.date(2026, 5, 28)
D = dt.date


@pytest.fixture
def sponsor(db):
    return OrganizationFactory(name="Acme Employer", kind=OrganizationKind.EMPLOYER, slug="acme-cover")


@pytest.fixture
def long(network, sponsor):
    """Nine cases from January 2025 to May 2026: a whole year, a whole quarter, a whole month, a month to cut."""
    done = {
        "triaged": "2025-01-10 02:00",
        "offered": "2025-01-10 05:00",
        "accepted": "2025-01-11 05:00",
        "delivered": "2025-01-13 05:00",
    }
    make_case(network, submitted="2025-01-10 00:00", stages=done, diagnosis="confirmed", treatment="agree")
    make_case(network, submitted="2025-02-20 08:00", channel="employer", sponsor=sponsor, state="TX")
    make_case(
        network, submitted="2025-06-03 08:00", specialty="medical_oncology", stages={"triaged": "2025-06-03 09:00"}
    )
    make_case(network, submitted="2025-11-30 23:30", channel="employer", sponsor=sponsor)
    make_case(network, submitted="2026-01-15 10:00", specialty="medical_oncology", state="TX")
    make_case(network, submitted="2026-03-31 22:00", channel="payer")
    make_case(network, submitted="2026-04-02 10:00")
    make_case(network, submitted="2026-05-10 10:00", state="TX", channel="employer", sponsor=sponsor)
    make_case(network, submitted="2026-05-25 10:00", specialty="medical_oncology")
    rollup.refresh(full=True)


def leader(network):
    return Scope(kind="network", name="n", networks=(network.pk,))


def chosen(network, **period):
    """(span, first month) of the cells that cover the leader's unfiltered view of the period, and the cut months."""
    where = query.Where(networks=(network.pk,), **period)
    candidates = Cell.objects.filter(network=network, slice="", pooled=True)
    ids, cut = cube.cover(where, candidates.values_list("pk", "span", "month", "first_day", "last_day"))
    spans = sorted(Cell.objects.filter(pk__in=ids).values_list("span", "month"), key=lambda c: c[1])
    return spans, cut


def both(scope, **filters):
    filters = Filters(**filters)
    return (
        measures.summary(scope, filters, today=TODAY, source="cells"),
        measures.summary(scope, filters, today=TODAY, source="facts"),
    )


@pytest.mark.django_db
def test_cells_of_every_span_are_built_pooled_and_per_sponsor(network, sponsor, long):
    spans = set(Cell.objects.filter(network=network, slice="", pooled=True).values_list("span", "month"))
    assert {s for s in spans if s[0] == "year"} == {("year", D(2025, 1, 1)), ("year", D(2026, 1, 1))}
    assert {s for s in spans if s[0] == "quarter"} == {("quarter", D(2025, m, 1)) for m in (1, 4, 10)} | {
        ("quarter", D(2026, m, 1)) for m in (1, 4)
    }
    year = Cell.objects.get(network=network, slice="", pooled=True, span="year", month=D(2025, 1, 1))
    assert (year.first_day, year.last_day, year.sponsor, year.program) == (D(2025, 1, 10), D(2025, 11, 30), None, None)
    assert year.figures["total"][0][0] == 4
    employer = Cell.objects.get(
        network=network, slice="", pooled=False, span="year", month=D(2025, 1, 1), sponsor=sponsor.pk
    )
    assert employer.figures["total"][0][0] == 2


@pytest.mark.django_db
def test_a_period_is_covered_by_a_year_a_quarter_a_month_and_a_cut_month(network, long):
    spans, cut = chosen(network, start=D(2025, 1, 1), end=D(2026, 5, 20))
    assert spans == [("year", D(2025, 1, 1)), ("quarter", D(2026, 1, 1)), ("month", D(2026, 4, 1))]
    assert cut == [D(2026, 5, 1)]  # 25 May lies after the end: May's facts are read
    cells, facts = both(leader(network), start=D(2025, 1, 1), end=D(2026, 5, 20))
    assert cells == facts and cells["volume"]["total"] == 8


@pytest.mark.django_db
def test_a_year_the_period_cuts_is_covered_by_its_months_and_quarters(network, long):
    spans, cut = chosen(network, start=D(2025, 2, 1))
    # 10 January lies before the start: not the year, not its first quarter; January holds no day of the period
    assert spans == [
        ("month", D(2025, 2, 1)),
        ("quarter", D(2025, 4, 1)),
        ("quarter", D(2025, 10, 1)),
        ("year", D(2026, 1, 1)),
    ]
    assert cut == []
    before = measures.summary(leader(network), Filters(start=D(2025, 2, 1)), today=TODAY)
    assert before == measures.summary(leader(network), Filters(start=D(2025, 2, 1)), today=TODAY, source="facts")
    CaseFact.objects.all().delete()  # no month is cut: the cells alone answer
    assert measures.summary(leader(network), Filters(start=D(2025, 2, 1)), today=TODAY) == before
    assert before["volume"]["total"] == 8


@pytest.mark.django_db
def test_all_time_reads_one_pooled_cell_a_year(network, long):
    assert chosen(network) == ([("year", D(2025, 1, 1)), ("year", D(2026, 1, 1))], [])


@pytest.mark.django_db
def test_a_period_inside_one_month_reads_its_facts(network, long):
    assert chosen(network, start=D(2026, 5, 1), end=D(2026, 5, 15)) == ([], [D(2026, 5, 1)])
    cells, facts = both(leader(network), start=D(2026, 5, 1), end=D(2026, 5, 15))
    assert cells == facts and cells["volume"]["total"] == 1


FILTERS = [
    {},
    {"start": D(2025, 1, 1), "end": D(2025, 12, 31)},
    {"start": D(2025, 2, 21), "end": D(2026, 3, 31)},
    {"start": D(2025, 6, 3), "end": D(2026, 4, 1)},
    {"start": D(2025, 12, 1), "end": TODAY},
    {"specialty": "medical_oncology"},
    {"specialty": "medical_oncology", "start": D(2025, 4, 1), "end": D(2026, 1, 15)},
    {"channel": "employer", "start": D(2025, 1, 1)},
    {"state": "TX"},
    {"state": "TX", "start": D(2026, 1, 16)},
]


@pytest.mark.django_db
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_every_span_gives_the_figures_of_the_facts(network, long, filters):
    cells, facts = both(leader(network), **filters)
    assert cells == facts


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filters", "total"), [({}, 3), ({"start": D(2025, 1, 1), "end": D(2025, 12, 31)}, 2), ({"state": "TX"}, 2)]
)
def test_a_sponsor_view_reads_its_own_cells(network, sponsor, long, filters, total):
    scope = Scope(kind="sponsor", name="s", sponsors=(sponsor.pk,), suppress=False)
    cells, facts = both(scope, **filters)
    assert cells == facts and cells["volume"]["total"] == total


@pytest.mark.django_db
def test_a_change_in_one_month_refreshes_its_quarter_and_year(network, long):
    def year_total(begin):
        cell = Cell.objects.get(network=network, slice="", pooled=True, span="year", month=begin)
        return cell.figures["total"][0][0]

    case = make_case(network, submitted="2025-08-15 10:00", state="TX")
    run = rollup.refresh()
    assert not run.full
    assert year_total(D(2025, 1, 1)) == 5
    quarter = Cell.objects.get(
        network=network, slice="state", value="TX", pooled=True, span="quarter", month=D(2025, 7, 1)
    )
    assert quarter.figures["total"][0][0] == 1
    case.submitted_at = dt.datetime(2026, 2, 1, 12, tzinfo=dt.UTC)  # into another year
    case.save()
    rollup.refresh()
    assert (year_total(D(2025, 1, 1)), year_total(D(2026, 1, 1))) == (4, 6)
    assert not Cell.objects.filter(span="quarter", month=D(2025, 7, 1)).exists()  # its only case moved away
    for filters in ({}, {"start": D(2025, 7, 1), "end": D(2026, 3, 31)}, {"state": "TX"}):
        cells, facts = both(leader(network), **filters)
        assert cells == facts
    CaseFact.objects.all().delete()
    assert measures.summary(leader(network), Filters(), today=TODAY)["volume"]["total"] == 10


@pytest.mark.django_db
def test_an_empty_network_has_no_cells_and_zeros(network, other_network, long):
    assert not Cell.objects.filter(network=other_network).exists()
    assert chosen(other_network) == ([], [])
    cells, facts = both(leader(other_network))
    assert cells == facts and cells["volume"]["total"] == 0


def test_a_cover_of_nothing_is_empty():
    assert cube.cover(query.Where(), []) == ([], [])


def test_span_bounds():
    assert [cube._start(D(2026, m, 9), "quarter") for m in (1, 3, 4, 12)] == [
        D(2026, 1, 1),
        D(2026, 1, 1),
        D(2026, 4, 1),
        D(2026, 10, 1),
    ]
    assert cube._end(D(2026, 10, 1), "quarter") == D(2026, 12, 31)
    assert cube._end(D(2024, 1, 1), "year") == D(2024, 12, 31)
    assert cube._end(D(2024, 2, 1), "month") == D(2024, 2, 29)
