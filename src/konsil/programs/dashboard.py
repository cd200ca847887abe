"""The sponsor's program dashboard: aggregates only, no PHI; the program's cases are `cases.selectors.program_cases`
(submitted, funded; the same as the program cases page); every count from 1 to 10 is suppressed (shown as
"<11"), and so is any share or median computed over fewer than 11 cases. CSV export of the same figures."""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass

from django.apps import apps
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from konsil.cases import selectors as cases_selectors
from konsil.cases.choices import Status
from konsil.core.disclosure import SMALL_CELL, complement

from .models import Enrollment, Invoice, Mandate, Member, Outcome, Program, Service

MIN_CELL = SMALL_CELL
SUPPRESSED = "<11"
HIDDEN = "hidden"  # 11 or more, hidden because with the total it would give a suppressed count away
DELIVERED = (Status.DELIVERED, Status.CLOSED)
# The program's cases as the program cases page and analytics count them (cases.selectors.program_cases).
CASES_SUBMITTED = _lazy("Cases submitted since the program started (drafts not counted)")


@dataclass(frozen=True)
class Figure:
    section: str
    label: str
    value: object  # an int, a str ("<11", "42%", "3.5 days") or "—" when there is nothing
    over_cases: bool = False  # a share, median or mean over cases, not a count: "<11" means too few cases


def cell(n: int):
    return SUPPRESSED if 0 < n < MIN_CELL else n


def breakdown(section: str, rows: list[tuple[str, int]]) -> list[Figure]:
    """A count per label of one total that is shown too. When exactly one count is suppressed, the smallest
    shown one is hidden as well: otherwise the total minus the others gives the small one away (as
    analytics does for its breakdowns: core.disclosure)."""
    values = [cell(n) for _label, n in rows]
    index = complement([n for _label, n in rows], [value == SUPPRESSED for value in values])
    if index is not None:
        values[index] = HIDDEN
    return [Figure(section, label, value) for (label, _n), value in zip(rows, values, strict=True)]


def share(part: int, whole: int):
    if whole < MIN_CELL or 0 < part < MIN_CELL:
        return SUPPRESSED if whole else "—"
    return f"{round(100 * part / whole)}%"


def figures(program: Program) -> list[Figure]:
    today = timezone.localdate()
    out: list[Figure] = []
    s = _("Enrolment")
    covered = Member.objects.filter(program=program, coverage_start__lte=today).exclude(coverage_end__lt=today)
    program_cases = Enrollment.objects.filter(program=program, case__in=cases_selectors.program_cases(program))
    self_pay = Enrollment.objects.filter(program=program, self_pay=True, case__in=cases_selectors.submitted_cases())
    out += [Figure(s, _("Covered members today"), cell(covered.count())),
            Figure(s, str(CASES_SUBMITTED), cell(program_cases.count())),
            Figure(s, _("Ineligible, continued as self-pay"), cell(self_pay.count()))]
    s = _("Utilization by service")
    labels = dict(Service.choices)
    out += breakdown(s, [(str(labels.get(row["service"], row["service"])), row["n"])
                         for row in program_cases.values("service").annotate(n=Count("id")).order_by("service")])
    s = _("Utilization by specialty")
    out += breakdown(s, [(_(row["case__specialty__name"]), row["n"]) for row in (  # the catalog's name, translated
        program_cases.exclude(case__specialty=None).values("case__specialty__name").annotate(n=Count("id"))
        .order_by("-n", "case__specialty__name"))])
    delivered = program_cases.filter(case__status__in=DELIVERED).select_related("case")
    days = [(e.case.delivered_at - e.case.submitted_at).total_seconds() / 86400 for e in delivered
            if e.case.delivered_at and e.case.submitted_at]
    s = _("Turnaround")
    out += [Figure(s, _("Opinions delivered"), cell(len(delivered))),
            Figure(s, _("Median days from submission to delivery"),
                   (f"{statistics.median(days):.1f}" if len(days) >= MIN_CELL else SUPPRESSED) if days else "—",
                   over_cases=True)]
    s = _("Mandated reviews")
    mandates = Mandate.objects.filter(program=program)
    out.append(Figure(s, _("Referred"), cell(mandates.count())))
    decided = mandates.filter(determination__isnull=False)
    counts = dict(decided.values_list("determination__outcome").annotate(n=Count("id")))
    for value, label in Outcome.choices:
        out.append(Figure(s, str(label), cell(counts.get(value, 0))))
    on_time = sum(1 for m in decided.select_related("determination") if m.determination.decided_on <= m.deadline)
    out.append(Figure(s, _("Decided by the deadline"), share(on_time, decided.count()), over_cases=True))
    s = _("Changes")
    opinions = _latest_opinions(delivered)
    dx = sum(1 for o in opinions if o.diagnosis_verdict == "changed")
    tx = sum(1 for o in opinions if o.treatment_verdict in ("modify", "alternative", "against"))
    out += [Figure(s, _("Diagnosis changed"), share(dx, len(opinions)), over_cases=True),
            Figure(s, _("Treatment plan changed"), share(tx, len(opinions)), over_cases=True)]
    out += _satisfaction(program_cases)
    s = _("Invoices")
    for invoice in Invoice.objects.filter(program=program).exclude(state="void")[:12]:
        out.append(Figure(s, f"{invoice.number} ({invoice.period_start:%Y-%m-%d} – {invoice.period_end:%Y-%m-%d})",
                          f"{invoice.total_cents / 100:,.2f} {invoice.currency}"))
    return out


def _latest_opinions(enrollments) -> list:
    from konsil.opinions.models import Opinion

    latest = {}
    for o in Opinion.objects.filter(case__in=[e.case_id for e in enrollments], signed_at__isnull=False
                                    ).order_by("case_id", "version"):
        latest[o.case_id] = o
    return list(latest.values())


def _satisfaction(program_cases) -> list[Figure]:
    """Likelihood to recommend (0-10) from the follow-ups of the outcomes app, where it is installed."""
    s = _("Satisfaction")
    if not apps.is_installed("konsil.outcomes"):
        return []
    scores = [n for n in program_cases.values_list("case__outcome__nps", flat=True) if n is not None]
    if not scores:
        return [Figure(s, _("Likelihood to recommend (0-10), mean"), "—", over_cases=True)]
    value = f"{statistics.mean(scores):.1f}" if len(scores) >= MIN_CELL else SUPPRESSED
    return [Figure(s, _("Answers"), cell(len(scores))),
            Figure(s, _("Likelihood to recommend (0-10), mean"), value, over_cases=True)]


def as_csv(program: Program, rows: list[Figure]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["program", "section", "measure", "value"])
    for f in rows:
        writer.writerow([program.slug, f.section, f.label, f.value])
    return out.getvalue()
