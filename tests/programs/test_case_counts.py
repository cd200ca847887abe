"""One program, three pages, one count: the program cases page, the program dashboard and sponsor analytics count
the same cases (submitted ones, drafts never) and each says what it counts; billing says what is left to bill."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import formats, timezone

from konsil.analytics import rollup
from konsil.cases import selectors as cases_selectors
from konsil.cases.models import Case
from konsil.programs import billing, dashboard
from konsil.programs.models import Enrollment, Program

from ..analytics.builders import make_case
from ..factories import make_draft, make_user


def recent(days: int) -> str:
    return (timezone.now() - dt.timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


def enrol(case, program, **kw):
    return Enrollment.objects.create(case=case, program=program, eligible=True, **kw)


def submitted(network, program, days=10, status="submitted"):
    """A case of `program` submitted `days` ago: delivered two days later, or cancelled, or still in work."""
    stages = {"delivered": recent(days - 2)} if status == "delivered" else None
    case = make_case(network, submitted=recent(days), stages=stages, sponsor=program.sponsor, channel="employer")
    if status not in ("submitted", "delivered"):
        Case.objects.filter(pk=case.pk).update(status=status)
    enrol(case, program)
    return case


def draft(network, program, *, status="draft", self_pay=False):
    user = make_user("patient", network)
    case = make_draft(network, user, sponsor=None if self_pay else program.sponsor, status=status)
    enrol(case, program, self_pay=self_pay)
    return case


@pytest.fixture
def seeded(employer_program, network):
    """The employer program: 11 submitted cases (6 in work, 3 delivered, 2 cancelled), 2 drafts, a draft withdrawn
    before submission and a self-pay draft; a second program of the same employer with 2 submitted cases."""
    for i in range(6):
        submitted(network, employer_program, days=10 + i)
    for i in range(3):
        submitted(network, employer_program, days=20 + i, status="delivered")
    for i in range(2):
        submitted(network, employer_program, days=30 + i, status="cancelled")
    drafts = [draft(network, employer_program), draft(network, employer_program),
              draft(network, employer_program, status="withdrawn"), draft(network, employer_program, self_pay=True)]
    other = Program.objects.create(sponsor=employer_program.sponsor, network=network, name="Acme Retirees",
                                   slug="acme-retirees", services=["written"], case_rates={"written": 50000})
    submitted(network, other, days=12)
    submitted(network, other, days=13, status="delivered")
    return {"program": employer_program, "other": other, "drafts": drafts}


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_drafts_are_neither_listed_nor_counted_for_the_sponsor(seeded, employer_admin):
    cases = cases_selectors.sponsored_cases_for(employer_admin)
    assert cases.count() == 13
    assert not cases.filter(pk__in=[c.pk for c in seeded["drafts"]]).exists()
    assert cases_selectors.program_cases(seeded["program"]).count() == 11
    assert cases_selectors.program_cases(seeded["other"]).count() == 2


def test_the_three_pages_agree_and_say_what_they_count(client, login, seeded, employer_admin):
    program = seeded["program"]
    login(client, employer_admin)
    page = client.get(reverse("cases:program"))
    body, words = page.content.decode(), text(page)
    assert "13 cases submitted (drafts not counted)" in words
    by_program = re.search(r'id="by-program">(.*?)</dl>', body, re.S).group(1)
    assert " ".join(re.sub(r"<[^>]+>", " ", by_program).split()) == "Acme Retirees 2 Acme Second Opinions 11"
    assert reverse("programs:dashboard", kwargs={"pk": program.pk}) in by_program
    for case in seeded["drafts"]:
        assert case.reference not in body
    assert "Cancelled 2" in words and "Draft" not in words and reverse("analytics:page") in body

    figures = {f.label: f.value for f in dashboard.figures(program)}
    assert figures[str(dashboard.CASES_SUBMITTED)] == 11
    assert figures["Ineligible, continued as self-pay"] == 0  # the self-pay draft is no case yet
    assert figures["Opinions delivered"] == "<11"
    dash = client.get(reverse("programs:dashboard", kwargs={"pk": program.pk}))
    assert "Cases submitted since the program started (drafts not counted) 11" in text(dash)
    assert "Opinions delivered fewer than 11" in text(dash)  # the words analytics uses; the CSV keeps "<11"
    assert "Median days from submission to delivery hidden: fewer than 11 cases" in text(dash)  # not 11 days
    csv = client.get(reverse("programs:dashboard", kwargs={"pk": program.pk}) + "?format=csv").content.decode()
    assert "Opinions delivered,<11" in csv
    assert f"{reverse('analytics:page')}?program={program.slug}" in dash.content.decode()
    assert reverse("cases:program") in dash.content.decode()

    rollup.refresh(full=True)
    summary = client.get("/api/v1/analytics/summary/", {"period": "12m"}).json()
    assert summary["volume"]["total"] == 13  # the sponsor's cases, as on the program cases page
    analytics = client.get(reverse("analytics:page"))
    start, end = summary["filters"]["from"], summary["filters"]["to"]
    label = re.search(r'id="total-cases-label">(.*?)</p>', analytics.content.decode()).group(1)
    start, end = (formats.date_format(dt.date.fromisoformat(day), "DATE_FORMAT") for day in (start, end))
    assert label == f"Cases submitted from {start} to {end}"
    assert reverse("cases:program") in analytics.content.decode()


def test_the_network_admin_is_not_sent_to_the_sponsors_case_list(client, login, seeded, network_admin):
    login(client, network_admin)
    body = client.get(reverse("programs:dashboard", kwargs={"pk": seeded["program"].pk})).content.decode()
    assert 'id="count-definitions"' in body and reverse("cases:program") not in body


# --- billing ------------------------------------------------------------------------------------------------

def billing_page(client, program) -> str:
    return text(client.get(reverse("programs:billing", kwargs={"pk": program.pk})))


def test_billing_names_the_delivered_cases_not_yet_invoiced(client, login, employer_program, network,
                                                            employer_admin, network_admin):
    for i in range(2):
        submitted(network, employer_program, days=10 + i, status="delivered")
    submitted(network, employer_program, days=5)  # in work: nothing to bill
    login(client, employer_admin)
    words = billing_page(client, employer_program)
    assert "2 delivered cases not yet invoiced" in words and "The network issues the invoice." in words
    assert "2 delivered cases have no claim yet." in words and "No delivered case to claim yet" not in words

    client.logout()
    login(client, network_admin)
    response = client.get(reverse("programs:billing", kwargs={"pk": employer_program.pk}))
    assert 'href="#issue-h"' in response.content.decode()
    assert "Issue an invoice for the period they were delivered in." in text(response)

    today = timezone.localdate()
    invoice = billing.issue_invoice(actor=network_admin, program=employer_program, data={
        "period_start": (today - dt.timedelta(days=40)).isoformat(), "period_end": today.isoformat()})
    words = billing_page(client, employer_program)
    assert "Every delivered case is invoiced (2)." in words
    from django.utils.formats import date_format

    period = f"{date_format(invoice.period_start, 'DATE_FORMAT')} – {date_format(today, 'DATE_FORMAT')}"
    assert period in words and today.isoformat() not in words  # dates as every other page writes them
    billing.void_invoice(actor=network_admin, invoice=invoice)  # a void invoice bills nothing
    assert "2 delivered cases not yet invoiced" in billing_page(client, employer_program)


def test_billing_with_nothing_delivered_says_so(client, login, employer_program, network, employer_admin):
    submitted(network, employer_program, days=5)
    login(client, employer_admin)
    words = billing_page(client, employer_program)
    assert "No delivered case yet: nothing to invoice." in words and "No delivered case to claim yet." in words
    assert "not yet invoiced" not in words and "no claim yet" not in words


def test_billing_per_member_per_month_does_not_count_cases_to_invoice(client, login, employer_program, network,
                                                                      employer_admin):
    employer_program.pricing, employer_program.pmpm_cents = "pmpm", 150
    employer_program.save()
    submitted(network, employer_program, days=10, status="delivered")
    login(client, employer_admin)
    words = billing_page(client, employer_program)
    assert "invoiced" not in words
    assert "1 delivered case has no claim yet." in words


def test_billing_page_refuses_outsiders(client, login, employer_program, payer_admin):
    login(client, payer_admin)
    assert client.get(reverse("programs:billing", kwargs={"pk": employer_program.pk})).status_code == 404


def test_a_single_small_count_is_not_given_away_by_the_total():
    from konsil.programs.templatetags.programs_ui import figure_value

    rows = dashboard.breakdown("By service", [("Video", 1), ("Written", 100), ("Phone", 30)])
    assert [f.value for f in rows] == ["<11", 100, "hidden"]  # 131 - 100 - 30 would be the video count
    assert figure_value(rows[2]) == "hidden (it would reveal a smaller count)"
    assert figure_value(rows[0]) == "fewer than 11"
    two_small = dashboard.breakdown("By service", [("Video", 1), ("Phone", 2), ("Written", 100)])
    assert [f.value for f in two_small] == ["<11", "<11", 100]  # their sum is not either of them
    assert [f.value for f in dashboard.breakdown("s", [("Written", 100), ("Video", 0)])] == [100, 0]
    csv = dashboard.as_csv(Program(slug="p"), rows)
    assert "By service,Phone,hidden" in csv and "By service,Video,<11" in csv


def test_the_dashboard_names_specialties_in_the_reader_s_language(seeded):
    from django.utils import translation

    case = cases_selectors.program_cases(seeded["program"]).first()
    Case.objects.filter(pk=case.pk).update(specialty_id="medical_oncology")
    with translation.override("es"):
        labels = [f.label for f in dashboard.figures(seeded["program"])]
    assert "Oncología Médica" in labels and "Medical Oncology" not in labels


def test_the_intake_offers_the_deliveries_the_program_pays_for(client, employer_program, network):
    case = draft(network, employer_program)  # the employer's program covers written opinions and video
    client.force_login(case.requester)
    page = client.get(reverse("cases:intake", kwargs={"pk": case.pk, "step": 4})).content.decode()
    offered = set(re.findall(r'name="preferred_delivery" value="([a-z_]+)"', page))
    assert offered == {"written", "video"} and "The program that pays for this case covers these." in page
    self_pay = draft(network, employer_program, self_pay=True)
    client.force_login(self_pay.requester)
    page = client.get(reverse("cases:intake", kwargs={"pk": self_pay.pk, "step": 4})).content.decode()
    assert set(re.findall(r'name="preferred_delivery" value="([a-z_]+)"', page)) == {
        "written", "video", "phone", "in_person"}  # paying herself: every way
