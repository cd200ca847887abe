"""Reads of program data, scoped to what the actor may see and audited."""

from __future__ import annotations

from django.db.models import BooleanField, Count, ExpressionWrapper, Max, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from konsil.accounts.roles import Role
from konsil.audit.services import emit
from konsil.core import authz
from konsil.core.errors import NotFound, PermissionDenied

from .models import Claim, Enrollment, Invoice, InvoiceLine, Mandate, Member, Program


def programs_for(user) -> QuerySet[Program]:
    """Programs the user administers (sponsor or network admin) or coordinates (network coordinator)."""
    if not user.is_authenticated:
        return Program.objects.none()
    sponsor = user.organizations_for(Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN).values("pk")
    network = user.organizations_for(Role.ORG_ADMIN, Role.COORDINATOR).values("pk")
    return (Program.objects.filter(Q(sponsor__in=sponsor) | Q(network__in=network))
            .select_related("sponsor", "network").distinct())


def get_program(user, pk, *, check: str = "programs.view", action: str = "program.read") -> Program:
    program = programs_for(user).filter(pk=pk).first() if _is_uuid(pk) else None
    if program is None or not authz.can(check, user, program):
        emit(actor=user, action=action, object_type="programs.program", object_id=str(pk)[:64], outcome="denied")
        raise NotFound(_("Program not found."))
    emit(actor=user, action=action, obj=program, purpose="operations")
    return program


def public_program(slug: str) -> Program:
    program = Program.objects.select_related("sponsor", "network").filter(slug=str(slug)[:80], active=True).first()
    if program is None:
        raise NotFound(_("Program not found."))
    return program


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


COVERAGE = ("covered", "ended", "future")


def members_for(user, program: Program, *, member_id: str = "", birth_date=None, coverage: str = "",
                today=None) -> QuerySet[Member]:
    """The program's roster, for those who keep it (`programs.roster`: the sponsor's and the network's admins),
    in member id order. `member_id` finds a member by the start of their id, and a subscriber's dependants with
    them; `birth_date` through its keyed hash (the clear date is never searched); `coverage` on `today`."""
    authz.require("programs.roster", user, program)
    rows = Member.objects.filter(program=program)
    if member_id:
        rows = rows.filter(Q(member_id__istartswith=member_id) | Q(subscriber_id__iexact=member_id))
    if birth_date is not None:
        rows = rows.filter(Member.matching_birth_date(birth_date))
    if coverage:
        rows = rows.filter(_coverage(coverage, today or timezone.localdate()))
    return rows.order_by("member_id")


def _coverage(state: str, today) -> Q:
    if state == "future":
        return Q(coverage_start__gt=today)
    ended = Q(coverage_end__lt=today)
    return ended if state == "ended" else Q(coverage_start__lte=today) & ~ended


def roster_counts(program: Program, today) -> dict[str, int]:
    """How many members are covered today, have ended or start later (one query)."""
    return Member.objects.filter(program=program).aggregate(
        **{state: Count("pk", filter=_coverage(state, today)) for state in COVERAGE})


def audit_members(user, rows) -> None:
    """Every member shown is a read of their roster data (names, birth dates: not patients' records)."""
    from konsil.audit.services import emit_many

    emit_many(actor=user, purpose="operations", events=[
        {"action": "program.member_list", "object_type": "programs.member", "object_id": str(m.pk)} for m in rows])


def mandates_for(user, program: Program) -> QuerySet[Mandate]:
    """The program's mandated reviews with their determinations (no clinical content); audited per row shown."""
    return (Mandate.objects.filter(program=program).select_related("member", "determination", "case")
            .order_by("-created_at"))


def audit_mandates(user, rows) -> None:
    from konsil.audit.services import emit_many

    emit_many(actor=user, purpose="payment", events=[
        {"action": "program.mandate_list", "object_type": "programs.mandate", "object_id": str(m.pk),
         "patient_id": m.case.patient_id if m.case_id else None} for m in rows])


def get_mandate(user, program: Program, pk) -> Mandate:
    mandate = mandates_for(user, program).filter(pk=pk).first() if _is_uuid(pk) else None
    if mandate is None:
        raise NotFound(_("Referral not found."))
    emit(actor=user, action="program.mandate_read", obj=mandate, purpose="payment",
         patient_id=mandate.case.patient_id if mandate.case_id else None)
    return mandate


REPORT_STATES = ("delivered", "closed")


def report_shared(mandate: Mandate) -> bool:
    """The member consented and the report is delivered: the sponsor may read it."""
    return bool(mandate.share_clinical and mandate.case_id and mandate.case.status in REPORT_STATES)


def shared_report_case(user, program: Program, pk):
    """The case of a mandated review whose report the member let the sponsor read (the sponsor's admins only).
    Without the member's consent (or once withdrawn) the sponsor is refused; both outcomes are audited."""
    from .permissions import is_sponsor_admin

    mandate = mandates_for(user, program).filter(pk=pk).first() if _is_uuid(pk) else None
    if mandate is None:
        raise NotFound(_("Referral not found."))
    patient_id = mandate.case.patient_id if mandate.case_id else None
    if not is_sponsor_admin(user, program) or not report_shared(mandate):
        emit(actor=user, action="program.report_read", obj=mandate, patient_id=patient_id, purpose="payment",
             outcome="denied")
        raise PermissionDenied(_("The member has not agreed to share the report with the plan."))
    emit(actor=user, action="program.report_read", obj=mandate.case, patient_id=patient_id, purpose="payment",
         role="sponsor_admin", detail={"mandate": str(mandate.pk)})
    return mandate.case


def invoices_for(user, program: Program) -> QuerySet[Invoice]:
    if not authz.can("programs.issue_invoice", user, program):
        authz.require("programs.bill", user, program)
    return Invoice.objects.filter(program=program).order_by("-period_start", "-created_at")


def get_invoice(user, program: Program, pk) -> Invoice:
    invoice = invoices_for(user, program).filter(pk=pk).first() if _is_uuid(pk) else None
    if invoice is None:
        raise NotFound(_("Invoice not found."))
    emit(actor=user, action="program.invoice_read", obj=invoice, purpose="payment")
    return invoice


def claims_for(user, program: Program) -> QuerySet[Claim]:
    invoices_for(user, program)  # the same check
    return Claim.objects.filter(enrollment__program=program).select_related("enrollment__case").order_by(
        "-created_at")  # the newest first: the one just made is at the top


def delivered_funded(program: Program) -> QuerySet[Enrollment]:
    """The program's delivered cases its sponsor pays for (not self-pay, eligible): what invoices and claims bill."""
    from .billing import DELIVERED

    return Enrollment.objects.filter(program=program, self_pay=False, eligible=True, case__status__in=DELIVERED)


def billable_for(user, program: Program) -> QuerySet[Enrollment]:
    """Delivered program cases without a claim yet (for the network's billing staff): those with a roster member
    (a claim names the insured) first, each part oldest delivery first."""
    no_member = ExpressionWrapper(Q(member__isnull=True), output_field=BooleanField())
    return (delivered_funded(program).filter(claims__isnull=True).select_related("case")
            .order_by(no_member, "case__delivered_at", "pk"))  # the claimable ones first


def uninvoiced_for(user, program: Program) -> QuerySet[Enrollment]:
    """Delivered program cases on no invoice line yet (a void invoice bills nothing)."""
    invoices_for(user, program)  # the same check
    invoiced = (InvoiceLine.objects.filter(invoice__program=program).exclude(invoice__state=Invoice.State.VOID)
                .exclude(case_reference="").values("case_reference"))
    return delivered_funded(program).exclude(case__reference__in=invoiced)


def billing_state(user, program: Program) -> dict:
    """What the billing page says is left to bill: delivered cases, those not invoiced (with the first and last
    delivery among them, to choose the period) and those without a claim. Per-case invoices only: a
    per-member-per-month invoice bills covered lives, not cases (`uninvoiced` is None); a per-claim program's
    invoice is the period's statement of its claimed cases (`by_claim`); a case without a roster member cannot be
    claimed (`no_member`)."""
    from .models import Pricing

    uninvoiced = None
    if program.pricing != Pricing.PMPM:
        uninvoiced = uninvoiced_for(user, program).aggregate(
            n=Count("pk"), first=Min("case__delivered_at"), last=Max("case__delivered_at"))
    unclaimed = billable_for(user, program)
    return {"delivered": delivered_funded(program).count(), "uninvoiced": uninvoiced,
            "unclaimed": unclaimed.count(), "no_member": unclaimed.filter(member__isnull=True).count(),
            "by_claim": program.pricing == Pricing.CLAIM}


def enrollment_for_case(user, case_id) -> Enrollment:
    """A case's program enrolment for someone who may read the case (coordinators see eligibility there)."""
    from konsil.cases.selectors import get_case

    case = get_case(user, case_id, action="program.case_eligibility")
    enrollment = Enrollment.objects.filter(case=case).select_related("program", "member").first()
    if enrollment is None:
        raise NotFound(_("This case is not part of a program."))
    return enrollment
