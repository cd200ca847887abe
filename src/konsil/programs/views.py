"""Program pages: the sponsor's and network's program admin, roster, mandated reviews, billing, dashboard;
the member-facing program page; a case's program and eligibility. Thin: selectors read, services write."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from konsil.core import authz
from konsil.core.errors import DomainError, NotFound
from konsil.core.errors import PermissionDenied as DomainPermissionDenied
from konsil.core.zones import display_zone

from . import billing, dashboard, enrolment, mandates, payments, selectors, services
from .forms import (
    AcceptForm,
    BillingProfileForm,
    EligibilityForm,
    InvoiceForm,
    NewProgramForm,
    PaymentForm,
    ProgramForm,
    RecommendForm,
    ReferralForm,
    RosterForm,
    RosterSearchForm,
    ShareForm,
    StartForm,
    put_errors,
)
from .models import Mandate, RosterImport
from .permissions import is_sponsor_admin


def _program(request, pk, check="programs.view"):
    try:
        return selectors.get_program(request.user, pk, check=check)
    except NotFound:
        raise Http404(_("Program not found.")) from None


def _deny(check, user, program):
    if not authz.can(check, user, program):
        raise DjangoPermissionDenied(_("You do not have permission to do this."))


def _file(content, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


@login_required
def program_list(request):
    programs = selectors.programs_for(request.user).order_by("name")
    if not programs.exists() and not request.user.has_role("payer_admin", "employer_admin", "org_admin",
                                                           "coordinator"):
        raise DjangoPermissionDenied(_("You do not have permission to do this."))
    from konsil.accounts.roles import OrganizationKind, Role

    sponsors, networks = _creatable(request.user)
    admin_networks = request.user.organizations_for(Role.ORG_ADMIN).filter(kind=OrganizationKind.PROVIDER_NETWORK)
    return render(request, "programs/list.html", {"programs": programs, "can_create": bool(sponsors and networks),
                                                  "admin_networks": admin_networks})


def _creatable(user):
    """The sponsors and networks `user` may pair in a new program: a network's admin serves any sponsor; a
    sponsor's admin buys from any network."""
    from konsil.accounts.models import Organization
    from konsil.accounts.roles import OrganizationKind, Role

    from .permissions import SPONSOR_ROLES

    own_sponsors = user.organizations_for(*SPONSOR_ROLES)
    own_networks = user.organizations_for(Role.ORG_ADMIN).filter(kind=OrganizationKind.PROVIDER_NETWORK)
    active = Organization.objects.filter(active=True).order_by("name")
    sponsors = active.filter(kind__in=(OrganizationKind.PAYER, OrganizationKind.EMPLOYER))
    networks = active.filter(kind=OrganizationKind.PROVIDER_NETWORK)
    return (list(sponsors if own_networks.exists() else own_sponsors.filter(active=True)),
            list(networks if own_sponsors.exists() else own_networks.filter(active=True)))


@login_required
def program_new(request):
    """A sponsor's or a network's admin sets up a program; nothing is saved until every field is right."""
    sponsors, networks = _creatable(request.user)
    if not sponsors or not networks:
        raise DjangoPermissionDenied(_("You do not have permission to do this."))
    form = NewProgramForm(request.POST or None, sponsors=sponsors, networks=networks,
                          initial={"services": ["written"], "eligibility": "roster", "pricing": "case_rate",
                                   "active": True, "languages": ["en"]})
    if request.method == "POST" and form.is_valid():
        try:
            program = services.create_program(actor=request.user, data=form.service_data())
        except DomainPermissionDenied as exc:
            form.add_error(None, str(exc.message))
        except DomainError as exc:
            put_errors(form, exc)
        else:
            messages.success(request, _("Program created."))
            return redirect("programs:detail", pk=program.pk)
    return render(request, "programs/new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def billing_profile(request, network):
    """The network's billing profile (billing provider of its 837P claims), for the network's admins."""
    from konsil.accounts.models import Organization

    from .models import BillingProfile

    org = Organization.objects.filter(pk=network).first()
    if org is None or not services.may_edit_billing_profile(request.user, org):
        raise Http404(_("Network not found."))
    profile = BillingProfile.objects.filter(network=org).first()
    initial = {k: getattr(profile, k) for k in services.PROFILE_FIELDS} if profile else {}
    form = BillingProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_billing_profile(actor=request.user, network=org, data=form.cleaned_data)
        except DomainError as exc:
            put_errors(form, exc)
        else:
            messages.success(request, _("Billing profile saved."))
            return redirect("programs:billing_profile", network=org.pk)
    return render(request, "programs/billing_profile.html", {"form": form, "network": org, "profile": profile},
                  status=400 if form.errors else 200)


@login_required
def program_detail(request, pk):
    program = _program(request, pk)
    user = request.user
    return render(request, "programs/detail.html", {
        "program": program, "mandated": program.mandated_procedures.all(),
        "member_url": request.build_absolute_uri(reverse("programs:public", args=[program.slug])),
        "can_edit": authz.can("programs.edit", user, program), "can_refer": authz.can("programs.refer", user, program),
        "can_bill": authz.can("programs.bill", user, program) or authz.can("programs.issue_invoice", user, program),
        "members": program.members.count()})


@login_required
def program_edit(request, pk):
    program = _program(request, pk, check="programs.edit")
    form = ProgramForm(request.POST or None, initial=ProgramForm.initial_for(program),
                       prices_editable=authz.can("programs.price", request.user, program))
    if request.method == "POST":
        if request.POST.get("regenerate_code"):
            services.regenerate_code(actor=request.user, program=program)
            messages.success(request, _("A new enrolment code was made; the old one no longer works."))
            return redirect("programs:detail", pk=program.pk)
        if form.is_valid():
            try:
                services.update_program(actor=request.user, program=program, data=form.service_data())
            except DomainError as exc:
                put_errors(form, exc)
            else:
                messages.success(request, _("Program saved."))
                return redirect("programs:detail", pk=program.pk)
    return render(request, "programs/edit.html", {"program": program, "form": form},
                  status=400 if form.errors else 200)


@login_required
def roster(request, pk):
    from .roster import import_roster

    program = _program(request, pk, check="programs.roster")
    form = RosterForm(request.POST or None, request.FILES or None)
    summary = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            summary = import_roster(actor=request.user, program=program, content=upload.read())
        except DomainError as exc:
            put_errors(form, exc)
    search = RosterSearchForm(request.GET)
    today = timezone.localdate()
    search.is_valid()  # a field in error is left out; the others still filter
    found = {k: v for k, v in getattr(search, "cleaned_data", {}).items() if v not in ("", None)}
    page = Paginator(selectors.members_for(request.user, program, today=today, **found),
                     ROSTER_PAGE).get_page(request.GET.get("page"))
    selectors.audit_members(request.user, page.object_list)
    status = 400 if form.errors or search.errors else 200
    return render(request, "programs/roster.html", {
        "program": program, "form": form, "summary": summary, "search": search,
        "searched": bool(found) or bool(search.errors),
        "page": page, "members": [(m, m.coverage_on(today)) for m in page.object_list],
        "counts": selectors.roster_counts(program, today),
        "imports": RosterImport.objects.filter(program=program)[:10]}, status=status)


ROSTER_PAGE = 25


@login_required
def reviews(request, pk):
    program = _program(request, pk)
    rows = list(selectors.mandates_for(request.user, program)[:200])
    selectors.audit_mandates(request.user, rows)
    return render(request, "programs/reviews.html", {
        "program": program, "rows": rows, "can_refer": authz.can("programs.refer", request.user, program)})


@login_required
def refer(request, pk):
    program = _program(request, pk, check="programs.refer")
    form = ReferralForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            mandate = mandates.refer(actor=request.user, program=program, data=form.cleaned_data)
        except DomainError as exc:
            put_errors(form, exc)
        else:
            messages.success(request, _("Referral sent. The member is invited to agree and send records."))
            return redirect("programs:review", pk=program.pk, mandate=mandate.pk)
    return render(request, "programs/refer.html", {"program": program, "form": form,
                                                   "mandated": program.mandated_procedures.all()},
                  status=400 if form.errors else 200)


@login_required
def review(request, pk, mandate):
    program = _program(request, pk)
    try:
        row = selectors.get_mandate(request.user, program, mandate)
    except NotFound:
        raise Http404(_("Referral not found.")) from None
    invite = request.build_absolute_uri(mandates.invite_path(row)) if row.state == Mandate.State.INVITED and \
        authz.can("programs.refer", request.user, program) else ""
    from .permissions import is_sponsor_admin

    return render(request, "programs/review.html", {
        "program": program, "m": row, "invite": invite, "d": getattr(row, "determination", None),
        "report_shared": selectors.report_shared(row) and is_sponsor_admin(request.user, program)})


@never_cache
@login_required
def shared_report(request, pk, mandate):
    """The full report of a mandated review, for the sponsor's admins while the member's consent stands."""
    from konsil.opinions import report

    program = _program(request, pk)
    try:
        case = selectors.shared_report_case(request.user, program, mandate)
        context = report.report_context(case, request)
    except NotFound:
        raise Http404(_("Referral not found.")) from None
    except DomainPermissionDenied as exc:
        raise DjangoPermissionDenied(str(exc.message)) from None
    context["report_body"] = report.render_body(context, zone=display_zone(request))
    return render(request, "programs/report.html", {**context, "program": program, "mandate_pk": mandate})


@login_required
def billing_page(request, pk):
    program = _program(request, pk)
    can_issue = authz.can("programs.issue_invoice", request.user, program)
    if not can_issue:
        _deny("programs.bill", request.user, program)
    can_issue = authz.can("programs.issue_invoice", request.user, program)
    claiming = request.method == "POST" and "enrollment" in request.POST  # a case's claim, not the invoice form
    form = InvoiceForm(request.POST if request.method == "POST" and not claiming else None) if can_issue else None
    status = 200
    if request.method == "POST":
        if not can_issue:
            raise DjangoPermissionDenied(_("You do not have permission to do this."))
        try:
            if request.POST.get("enrollment"):
                enrollment = selectors.billable_for(request.user, program).filter(
                    pk=request.POST["enrollment"]).first() if selectors._is_uuid(request.POST["enrollment"]) else None
                if enrollment is None:
                    raise NotFound(_("This case has nothing to claim."))
                claim = billing.make_claim(actor=request.user, enrollment=enrollment)
                messages.success(request, _("Claim %(n)s made and validated (837P).") % {"n": claim.control_number})
                return redirect("programs:billing", pk=program.pk)
            if form.is_valid():
                invoice = billing.issue_invoice(actor=request.user, program=program, data=form.cleaned_data)
                messages.success(request, _("Invoice %(n)s issued.") % {"n": invoice.number})
                return redirect("programs:billing", pk=program.pk)
        except DomainError as exc:
            status = exc.status
            if form is not None and exc.field and not claiming:
                put_errors(form, exc)
            else:
                messages.error(request, str(exc.message))
    return render(request, "programs/billing.html", {
        "program": program, "form": form, "can_issue": can_issue,
        "invoices": selectors.invoices_for(request.user, program)[:50],
        "claims": selectors.claims_for(request.user, program)[:100],
        "to_bill": selectors.billing_state(request.user, program),
        "billable": selectors.billable_for(request.user, program)[:100] if can_issue else []},
        status=400 if form is not None and form.errors else status)


@login_required
def invoice_file(request, pk, invoice, fmt):
    program = _program(request, pk)
    try:
        row = selectors.get_invoice(request.user, program, invoice)
    except (NotFound, DomainPermissionDenied):
        raise Http404(_("Invoice not found.")) from None
    if fmt == "csv":
        return _file(billing.invoice_csv(row), "text/csv; charset=utf-8", f"{row.number}.csv")
    return _file(billing.invoice_pdf(row), "application/pdf", f"{row.number}.pdf")


@login_required
def claim_file(request, pk, claim):
    program = _program(request, pk)
    try:
        row = selectors.claims_for(request.user, program).filter(pk=claim).first() if selectors._is_uuid(
            claim) else None
    except DomainPermissionDenied:
        row = None
    if row is None:
        raise Http404(_("Claim not found."))
    return _file(billing.read_claim(actor=request.user, claim=row), "application/edi-x12",
                 billing.claim_filename(row))


@login_required
def dashboard_page(request, pk):
    program = _program(request, pk)
    rows = dashboard.figures(program)
    if request.GET.get("format") == "csv":
        return _file(dashboard.as_csv(program, rows), "text/csv; charset=utf-8", f"{program.slug}-dashboard.csv")
    sections: dict[str, list] = {}
    for figure in rows:
        sections.setdefault(figure.section, []).append(figure)
    return render(request, "programs/dashboard.html", {
        "program": program, "sections": sections, "min_cell": dashboard.MIN_CELL,
        "analytics_url": f"{reverse('analytics:page')}?{urlencode({'program': program.slug})}",
        "cases_url": reverse("cases:program") if is_sponsor_admin(request.user, program) else ""})


# --- members ------------------------------------------------------------------------------------------------

def public(request, slug):
    """The member-facing program page: check eligibility, then sign up or sign in and start a case."""
    try:
        program = selectors.public_program(slug)
    except NotFound:
        raise Http404(_("Program not found.")) from None
    user = request.user
    is_member = user.is_authenticated and user.has_role("patient", "caregiver")
    form_class = StartForm if is_member else EligibilityForm
    form = form_class(request.POST or None, program=program)
    result = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if is_member and request.POST.get("action") == "start":
                enrollment = enrolment.start_case(actor=user, program=program, data=data)
                messages.success(request, _("Your case is started in %(program)s.") % {"program": program.name})
                return redirect("cases:intake", pk=enrollment.case.pk, step=1)
            result = enrolment.check(actor=user, program=program, data=data)
        except DomainError as exc:
            put_errors(form, exc)
    return render(request, "programs/public.html", {
        "program": program, "form": form, "result": result, "is_member": is_member,
        "price": enrolment.format_money(program.self_pay_cents, program.currency),
        "next": request.get_full_path()}, status=400 if form.errors else 200)


def theme(request, slug):
    """The program's accent colour as a style sheet (the strict CSP allows no inline style)."""
    try:
        program = selectors.public_program(slug)
    except NotFound:
        raise Http404(_("Program not found.")) from None
    accent = program.accent if len(program.accent) == 7 else ""
    css = f":root {{ --accent: {accent}; --accent-dark: {accent}; }}\n" if accent else ""
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response


@login_required
def mandate_accept(request, token):
    try:
        mandate = mandates.mandate_by_token(token)
    except NotFound:
        raise Http404(_("This invitation does not exist.")) from None
    form = AcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            mandate = mandates.accept(actor=request.user, mandate=mandate, data=form.cleaned_data)
        except DomainError as exc:
            put_errors(form, exc)
        else:
            messages.success(request, _("Thank you. Add your records and sign the consent to send the case."))
            return redirect("cases:intake", pk=mandate.case.pk, step=1)
    return render(request, "programs/accept.html", {"mandate": mandate, "form": form},
                  status=400 if form.errors else 200)


@login_required
def case_program(request, case_id):
    """A case's program: eligibility (for coordinators and the patient's side), self-pay payments, and the
    recommended procedure of a mandated review (for its specialist)."""
    try:
        enrollment = selectors.enrollment_for_case(request.user, case_id)
    except NotFound:
        raise Http404(_("This case is not part of a program.")) from None
    from konsil.cases import relations as rel

    mandate = getattr(enrollment.case, "mandate", None)
    relations = rel.relations(request.user, enrollment.case)
    member_side = mandate is not None and bool(relations & {rel.PATIENT, rel.CAREGIVER})
    reviewer = mandate is not None and bool(relations & {rel.SPECIALIST, rel.COORDINATOR})
    pay_form, rec_form = PaymentForm(prefix="pay"), RecommendForm(prefix="rec")
    share_form = ShareForm(prefix="share", initial={
        "share_with_payer": "yes" if mandate is not None and mandate.share_clinical else "no"})
    if request.method == "POST":
        try:
            if request.POST.get("form") == "share" and mandate is not None:
                share_form = ShareForm(request.POST, prefix="share")
                if share_form.is_valid():
                    share = share_form.cleaned_data["share_with_payer"]
                    mandates.set_share(actor=request.user, mandate=mandate, share=share)
                    messages.success(request, _("Your health plan may now read the full report.") if share else
                                     _("Your health plan no longer reads the report; it sees only the determination."))
                    return redirect("programs:case", case_id=enrollment.case_id)
            elif "pay-amount" in request.POST:
                pay_form = PaymentForm(request.POST, prefix="pay")
                if pay_form.is_valid():
                    payments.record_payment(actor=request.user, enrollment=enrollment, data=pay_form.cleaned_data)
                    messages.success(request, _("Payment recorded."))
                    return redirect("programs:case", case_id=enrollment.case_id)
            elif mandate is not None:
                rec_form = RecommendForm(request.POST, prefix="rec")
                if rec_form.is_valid():
                    mandates.set_recommended_cpt(actor=request.user, mandate=mandate, data=rec_form.cleaned_data)
                    messages.success(request, _("Recommended procedure saved."))
                    return redirect("programs:case", case_id=enrollment.case_id)
        except DomainPermissionDenied as exc:
            raise DjangoPermissionDenied(str(exc.message)) from None
        except DomainError as exc:
            target = share_form if request.POST.get("form") == "share" else pay_form if "pay-amount" in \
                request.POST else rec_form
            put_errors(target, exc)
    return render(request, "programs/case.html", {
        "e": enrollment, "mandate": mandate, "pay_form": pay_form, "rec_form": rec_form, "share_form": share_form,
        "member_side": member_side, "reviewer": reviewer,
        "balance": payments.balance_cents(enrollment), "payments": enrollment.payments.all()},
        status=400 if share_form.errors or pay_form.errors or rec_form.errors else 200)


@require_POST
@login_required
def void_invoice(request, pk, invoice):
    program = _program(request, pk)
    try:
        billing.void_invoice(actor=request.user, invoice=selectors.get_invoice(request.user, program, invoice))
        messages.success(request, _("Invoice voided."))
    except DomainError as exc:
        messages.error(request, str(exc.message))
    return redirect("programs:billing", pk=program.pk)
