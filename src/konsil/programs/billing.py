"""Billing: invoices per sponsor and period from the program's price terms (PDF and CSV), 837P claims per
delivered service (validated with pyx12 before they are kept), self-pay payments through a provider."""

from __future__ import annotations

import calendar
import csv
import io
from datetime import date

from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases.choices import Status
from konsil.core import authz
from konsil.core.errors import Conflict, ValidationFailed

from . import inputs, x12
from .models import BillingProfile, Claim, Enrollment, Invoice, InvoiceLine, Member, Pricing, Program, Service

DELIVERED = (Status.DELIVERED, Status.CLOSED)
# Professional codes by delivery mode (AMA CPT 2025): a written review of records is an interprofessional
# consult with a written report (99451); a video consult is an office consult billed as telehealth (99243,
# modifier 95, place of service 10); a phone consult is an audio-only visit (98010); a panel is billed per
# written review. Place of service 02/10: telehealth outside / in the patient's home.
CLAIM_CODES = {Service.WRITTEN: ("99451", "", "02"), Service.PANEL: ("99451", "", "02"),
               Service.VIDEO: ("99243", "95", "10"), Service.PHONE: ("98010", "", "10")}
MAX_PERIOD_DAYS = 366


def _months(start: date, end: date):
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
        yield max(first, start), min(last, end), first
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def covered_lives(program: Program, first: date, last: date) -> int:
    """Members whose coverage overlaps [first, last]."""
    return Member.objects.filter(program=program, coverage_start__lte=last).exclude(
        coverage_end__lt=first).count()


def delivered_enrollments(program: Program, start: date, end: date):
    from .selectors import delivered_funded

    return (delivered_funded(program).filter(case__delivered_at__date__gte=start, case__delivered_at__date__lte=end)
            .select_related("case").order_by("case__delivered_at"))


def _lines(program: Program, start: date, end: date) -> list[dict]:
    labels = dict(Service.choices)
    lines = []
    if program.pricing == Pricing.PMPM:
        for first, last, month in _months(start, end):
            lives = covered_lives(program, first, last)
            lines.append({"description": _("Covered lives, %(month)s") % {"month": f"{month:%Y-%m}"},
                          "quantity": lives, "unit_cents": program.pmpm_cents,
                          "amount_cents": lives * program.pmpm_cents})
        return lines
    for e in delivered_enrollments(program, start, end):
        rate = int(program.case_rates.get(e.service, 0))
        lines.append({"case_reference": e.case.reference, "service": e.service,
                      "description": str(labels.get(e.service, e.service)), "quantity": 1, "unit_cents": rate,
                      "amount_cents": rate})
    return lines


def period(data) -> tuple[date, date]:
    clean = inputs.collect({"period_start": lambda: inputs.day(data, "period_start"),
                            "period_end": lambda: inputs.day(data, "period_end")})
    start, end = clean["period_start"], clean["period_end"]
    if end < start:
        raise ValidationFailed(_("Dates out of order: the period ends before it starts."), field="period_end")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(_("An invoice covers at most a year."), field="period_end")
    return start, end


def issue_invoice(*, actor, program: Program, data) -> Invoice:
    """The invoice for one period; no day of a program is invoiced twice (void an invoice to issue its period
    again). The program's row is locked while the periods are compared, so two overlapping requests cannot both
    pass."""
    authz.require("programs.issue_invoice", actor, program)
    start, end = period(data if isinstance(data, dict) else {})
    try:
        with transaction.atomic():
            Program.objects.select_for_update().filter(pk=program.pk).first()
            _refuse_overlap(program, start, end)
            lines = _lines(program, start, end)
            seq = Invoice.objects.filter(program=program).count() + 1
            number = f"INV-{program.slug[:12].upper()}-{start:%Y%m}-{seq:03d}"
            invoice = Invoice.objects.create(program=program, sponsor=program.sponsor, number=number,
                                             period_start=start, period_end=end, pricing=program.pricing,
                                             currency=program.currency, issued_by=actor,
                                             total_cents=sum(line["amount_cents"] for line in lines))
            InvoiceLine.objects.bulk_create([InvoiceLine(invoice=invoice, position=i, **line)
                                             for i, line in enumerate(lines)])
            emit(actor=actor, action="program.invoice_issue", obj=invoice, purpose="payment",
                 detail={"program": str(program.pk), "lines": len(lines), "total_cents": invoice.total_cents})
    except IntegrityError:
        raise Conflict(_("This period is already invoiced."), code="duplicate") from None
    return invoice


def _refuse_overlap(program: Program, start: date, end: date) -> None:
    taken = (Invoice.objects.filter(program=program, period_start__lte=end, period_end__gte=start)
             .exclude(state=Invoice.State.VOID).order_by("period_start").first())
    if taken is None:
        return
    if (taken.period_start, taken.period_end) == (start, end):
        raise Conflict(_("This period is already invoiced."), code="duplicate")
    raise Conflict(_("Invoice %(number)s already covers %(start)s – %(end)s: choose days after it, or void it "
                     "first.") % {"number": taken.number, "start": taken.period_start.isoformat(),
                                  "end": taken.period_end.isoformat()}, code="overlap")


def void_invoice(*, actor, invoice: Invoice) -> Invoice:
    authz.require("programs.issue_invoice", actor, invoice.program)
    if invoice.state != Invoice.State.ISSUED:
        raise Conflict(_("Only an issued invoice can be voided."), code="state")
    with transaction.atomic():
        invoice.state = Invoice.State.VOID
        invoice.save(update_fields=["state", "updated_at"])
        emit(actor=actor, action="program.invoice_void", obj=invoice, purpose="payment")
    return invoice


CSV_HEADER = ["invoice", "period_start", "period_end", "line", "case_reference", "service", "description",
              "quantity", "unit_price", "amount", "currency"]


def invoice_csv(invoice: Invoice) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for line in invoice.lines.all():
        writer.writerow([invoice.number, invoice.period_start, invoice.period_end, line.position + 1,
                         line.case_reference, line.service, _csv_safe(line.description), line.quantity,
                         f"{line.unit_cents / 100:.2f}", f"{line.amount_cents / 100:.2f}", invoice.currency])
    writer.writerow([invoice.number, invoice.period_start, invoice.period_end, "", "", "", "Total", "", "",
                     f"{invoice.total_cents / 100:.2f}", invoice.currency])
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """No formula injection in spreadsheets."""
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def invoice_pdf(invoice: Invoice) -> bytes:
    from weasyprint import HTML

    html = render_to_string("programs/invoice_pdf.html", {"invoice": invoice, "lines": invoice.lines.all()})
    return HTML(string=html).write_pdf()


# --- claims -------------------------------------------------------------------------------------------------

def claim_data(enrollment: Enrollment, profile: BillingProfile, control: int) -> x12.ClaimData:
    case, program = enrollment.case, enrollment.program
    opinion = case.opinions.filter(signed_at__isnull=False).order_by("-version").first()
    codes = []
    if opinion is not None and opinion.revised_diagnosis:
        codes.append(opinion.revised_diagnosis)
    codes += [d.code for d in case.diagnoses.all() if d.code not in codes]
    if not codes:
        raise Conflict(_("The case has no diagnosis code, and an 837P claim needs one: confirm a suggested code on "
                         "the case page, or let the opinion name the revised diagnosis's code."),
                       code="no_diagnosis")
    cpt, modifier, pos = CLAIM_CODES[enrollment.service]
    member = enrollment.member
    if member is None:
        raise Conflict(_("The case has no member on the roster to claim for."), code="no_member")
    subscriber = member
    if member.relationship != "subscriber":
        subscriber = Member.objects.filter(program=program, member_id=member.subscriber_id).first() or member
    specialist = case.assigned_specialist
    addr = (subscriber.address, subscriber.city, subscriber.state, subscriber.postal_code)
    patient = None
    if subscriber.pk != member.pk:
        patient = {"family": member.family_name, "given": member.given_name, "birth": member.birth_date,
                   "sex": member.sex, "relationship": {"spouse": "01", "child": "19"}.get(member.relationship, "G8"),
                   "address": (member.address, member.city, member.state, member.postal_code)
                   if member.address else None}
    if not addr[0] and not (patient and patient["address"]):
        raise Conflict(_("The member's address is missing from the roster; an 837P claim needs it."),
                       code="no_address")
    return x12.ClaimData(
        control=control, when=timezone.now(), submitter=case.network.name, submitter_id=profile.submitter_id,
        submitter_phone=profile.phone, receiver=program.sponsor.name, receiver_id=program.payer_id or "PAYER",
        billing_name=case.network.name, billing_npi=profile.npi, billing_tax_id=profile.tax_id,
        billing_address=profile.address, billing_city=profile.city, billing_state=profile.state,
        billing_zip=profile.postal_code, payer_name=program.sponsor.name, payer_id=program.payer_id or "PAYER",
        member_id=subscriber.member_id, subscriber_family=subscriber.family_name,
        subscriber_given=subscriber.given_name, subscriber_birth=subscriber.birth_date,
        subscriber_sex=subscriber.sex, subscriber_address=addr, claim_id=case.reference,
        amount_cents=int(program.case_rates.get(enrollment.service, 0)),
        place_of_service=pos, diagnoses=codes, cpt=cpt, modifier=modifier,
        service_date=timezone.localtime(case.delivered_at).date() if case.delivered_at else timezone.localdate(),
        rendering_family=specialist.user.last_name if specialist else "",
        rendering_given=specialist.user.first_name if specialist else "",
        rendering_npi=specialist.npi if specialist else "", patient=patient)


def make_claim(*, actor, enrollment: Enrollment) -> Claim:
    """The 837P for a delivered program case; refused unless pyx12 finds it valid. One claim per case."""
    program = enrollment.program
    authz.require("programs.issue_invoice", actor, program)
    if enrollment.self_pay or not enrollment.eligible:
        raise Conflict(_("A self-pay case is not claimed from the plan."), code="self_pay")
    if enrollment.case.status not in DELIVERED:
        raise Conflict(_("Only a delivered service is claimed."), code="not_delivered")
    existing = enrollment.claims.first()
    if existing is not None:
        return existing
    profile = BillingProfile.objects.filter(network_id=enrollment.case.network_id).first()
    if profile is None:
        raise Conflict(_("Set the network's billing profile (NPI, tax id, address) first."), code="no_profile")
    with transaction.atomic():
        control = (Claim.objects.count() % 999_999_999) + 1
        while Claim.objects.filter(control_number=f"{control:09d}").exists():
            control += 1
        data = claim_data(enrollment, profile, control)
        text = x12.write_837p(data)
        report = x12.validate(text, expect="837")
        if not report.valid:
            raise Conflict(_("The claim did not pass 837P validation: %(error)s")
                           % {"error": "; ".join(e.message for e in report.errors[:3])}, code="x12_invalid")
        claim = Claim.objects.create(enrollment=enrollment, control_number=f"{control:09d}", cpt=data.cpt,
                                     diagnoses=data.diagnoses, amount_cents=data.amount_cents, x12=text,
                                     created_by=actor)
        emit(actor=actor, action="program.claim_create", obj=claim, patient_id=enrollment.case.patient_id,
             purpose="payment", detail={"cpt": data.cpt, "control": claim.control_number})
    return claim


def read_claim(*, actor, claim: Claim) -> str:
    """The claim's X12 text for the network's billing staff and the sponsor's admins; audited."""
    program = claim.enrollment.program
    if not authz.can("programs.issue_invoice", actor, program):
        authz.require("programs.bill", actor, program)
    emit(actor=actor, action="program.claim_read", obj=claim, patient_id=claim.enrollment.case.patient_id,
         purpose="payment")
    return claim.x12


def claim_filename(claim: Claim) -> str:
    return f"claim-{claim.control_number}.837"
