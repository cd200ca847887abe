"""Specialist workspace, the review screen with the opinion form, the report (HTML, PDF) and its sharing.

Thin views: reads through the scoped, audited selectors; writes through the services and the lifecycle.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from konsil.accounts.reauth import SignatureForm, confirm_signer
from konsil.cases import lifecycle
from konsil.cases import relations as rel
from konsil.cases.choices import OfferStatus, Status
from konsil.cases.forms import apply_error
from konsil.cases.selectors import attachments_for, audit_list, cases_for, get_case, messages_for
from konsil.cases.services import post_message, transition
from konsil.core import authz, icd10
from konsil.core.errors import DomainError, NotFound, PermissionDenied
from konsil.core.zones import display_zone
from konsil.records import reading
from konsil.triage.presenters import present
from konsil.triage.services import latest_proposal

from . import blinded, panels, report, services
from .forms import AmendForm, OpinionForm, ReplyForm, ShareForm, content_from
from .panel_forms import AssessmentForm

log = logging.getLogger(__name__)

MY_CASE_GROUPS = (
    (gettext_lazy("Accepted, review not started"), {Status.ACCEPTED}),
    (gettext_lazy("In progress"), {Status.IN_REVIEW, Status.INFO_REQUESTED, Status.OPINION_DRAFTED}),
    (gettext_lazy("Signed"), {Status.SIGNED, Status.DELIVERED, Status.CLOSED}),
)
REVIEW_ACTIONS = {
    "save": gettext_lazy("Draft saved."),
    "start_review": gettext_lazy("Review started."),
    "request_info": gettext_lazy("Your request for information was sent."),
    "complete_draft": gettext_lazy("The opinion is ready to sign."),
    "revise_draft": gettext_lazy("The opinion is open for revision."),
    "sign": gettext_lazy("The opinion is signed."),
    "deliver": gettext_lazy("The report is delivered."),
}
OPINION_ACTIONS = frozenset({"save", "complete_draft", "sign"})  # their errors belong on the opinion form
MESSAGE = "message"  # a reply in the case's thread from the review screen (no lifecycle action)
SHARERS = frozenset({rel.PATIENT, rel.CAREGIVER, rel.REQUESTER, rel.COORDINATOR})


def _age(birth_date) -> int:
    today = timezone.localdate()
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def _code_name(form) -> str:
    """The name of the ICD-10-CM code the form shows, when it is a known code."""
    code = str(form["revised_diagnosis"].value() or "").strip() if form is not None else ""
    return icd10.describe(icd10.normalize(code)) if code and icd10.is_valid(code) else ""


def _field_errors(exc: DomainError) -> dict:
    return exc.as_dict()["errors"]


def _without_secret(exc: DomainError) -> dict:
    """The error's fields for the opinion form (the signing secret's error shows on its own field)."""
    return {k: v for k, v in _field_errors(exc).items() if k != "signing_secret"}


def _signature_errors(exc: DomainError) -> SignatureForm | None:
    """The signing field with the error of a refused confirmation (never the secret typed back)."""
    errors = _field_errors(exc).get("signing_secret")
    if not errors:
        return None
    form = SignatureForm(data={})
    form.is_valid()
    form.errors["signing_secret"] = form.error_class(errors)
    return form


def _case(user, pk, **kwargs):
    try:
        return get_case(user, pk, **kwargs)
    except NotFound:
        raise Http404 from None


def _not_found_passes(exc: DomainError) -> None:
    if isinstance(exc, NotFound):
        raise Http404 from None


# --- workspace ----------------------------------------------------------------------------------------------

def _specialist(user):
    specialist = getattr(user, "specialist", None)
    if specialist is None:
        raise Forbidden
    return specialist


@never_cache
@login_required
def workspace(request):
    """Pending offers (the minimum needed to decide) and the specialist's own cases."""
    specialist = _specialist(request.user)
    visible = cases_for(request.user)
    offers = list(visible.filter(status=Status.OFFERED, offers__specialist=specialist,
                                 offers__status=OfferStatus.PENDING).prefetch_related("questions"))
    for case in offers:
        case.patient_age = _age(case.patient.birth_date)
    mine = list(visible.filter(assigned_specialist=specialist).order_by("-updated_at"))
    seats = list(panels.seats_of(specialist))
    audit_list(request.user, offers + mine + [seat.panel.case for seat in seats])
    groups = [(label, [c for c in mine if c.status in statuses]) for label, statuses in MY_CASE_GROUPS]
    return render(request, "opinions/workspace.html", {"offers": offers, "groups": groups, "seats": seats})


@require_POST
@login_required
def respond(request, pk, action):
    """Accept or decline an offer (declining needs a reason)."""
    if action not in ("accept", "decline"):
        raise Http404
    case = _case(request.user, pk, audit=False)
    params = {"reason": request.POST.get("reason", "")} if action == "decline" else {}
    try:
        transition(actor=request.user, case=case, action=action, **params)
    except DomainError as exc:
        _not_found_passes(exc)
        if exc.field == "reason":
            messages.error(request, _("%(case)s: give a reason for declining.") % {"case": case.reference})
        else:
            messages.error(request, f"{case.reference}: {exc.message}")
        return redirect("opinions:workspace")
    if action == "accept":
        messages.success(request, _("You accepted case %(case)s.") % {"case": case.reference})
        return redirect("opinions:review", pk=case.pk)
    messages.success(request, _("You declined case %(case)s.") % {"case": case.reference})
    return redirect("opinions:workspace")


# --- review screen ------------------------------------------------------------------------------------------

def _review_case(request, pk, *, audit: bool):
    """The case and the user's relations; only its specialist (or a signer) works on this screen."""
    case = _case(request.user, pk, audit=audit)
    relations = rel.relations(request.user, case)
    if not relations & {rel.SPECIALIST, rel.SIGNER}:
        raise Forbidden
    return case, relations


def _blinding_context(request, case, relations, assessment_form=None) -> dict:
    """Blinded review: whether the first opinion is hidden, the reviewer's assessment and its form."""
    specialist = getattr(request.user, "specialist", None)
    hidden = blinded.hidden_for(request.user, case)
    can_assess = hidden and rel.SPECIALIST in relations and case.status in blinded.ASSESS_IN
    panel = panels.active_panel(case)
    seat = next((m for m in panel.members.all() if m.specialist_id == getattr(specialist, "pk", None)),
                None) if panel else None
    return {
        "blind": hidden, "blinded_plan": blinded.is_blinded(case),
        "independent": blinded.assessment_of(case, specialist),
        "assessment_form": (assessment_form or AssessmentForm()) if can_assess else None,
        "panel": panel, "panel_inputs": bool(panel and panels.inputs_visible(panel, seat, False)),
    }


def _render_review(request, case, relations, *, form=None, amend_form=None, failed=None, status=200,
                   assessment_form=None, signature_form=None, message_form=None):
    questions = list(case.questions.all())
    draft = services.current_draft(case)
    signed = services.latest_signed(case)
    editable = case.status in services.DRAFTABLE and rel.SPECIALIST in relations
    if form is None:
        form = OpinionForm.for_opinion(draft, questions)
    for field in form.fields.values():
        field.disabled = not editable
    allowed = {t.action for t in lifecycle.allowed_actions(case.status, relations)}
    can_amend = "amend" in allowed and signed is not None and signed.author.user_id == request.user.pk
    if can_amend and amend_form is None:
        amend_form = AmendForm.for_opinion(signed, questions)
    thread = list(messages_for(request.user, case))
    context = {
        "case": case, "patient": case.patient, "patient_age": _age(case.patient.birth_date),
        "questions": questions, "diagnoses": list(case.diagnoses.all()), "proposal": present(latest_proposal(case)),
        "record_rows": reading.record_rows(attachments_for(request.user, case)), "thread": thread[-5:],
        "thread_count": len(thread), "form": form, "draft": draft, "editable": editable,
        "revised_name": _code_name(form), "amend_revised_name": _code_name(amend_form),
        "actions": allowed & set(REVIEW_ACTIONS), "amend_form": amend_form if can_amend else None,
        "failed_action": failed[0] if failed else "", "failed": failed[1] if failed else None,
        "report": report.report_context(case) if signed else None,
        "has_images": case.studies.exists(), "records_viewer": reading.viewer_context(case),
        "clinical": reading.clinical_context(case),
        "signature_form": signature_form or SignatureForm(),
        "can_message": authz.can("case.message", request.user, case),
        "message_form": message_form or ReplyForm(),
        **_blinding_context(request, case, relations, assessment_form),
    }
    return render(request, "opinions/review.html", context, status=status)


@never_cache
@login_required
def review(request, pk):
    """Everything needed to decide on one screen, and the structured opinion form (POST: save or act)."""
    if request.method == "POST":
        return _review_post(request, pk)
    case, relations = _review_case(request, pk, audit=True)
    return _render_review(request, case, relations)


def _review_post(request, pk):
    case, relations = _review_case(request, pk, audit=False)
    action = request.POST.get("action") or "save"
    if action == MESSAGE:
        return _review_message(request, case, relations)
    if action not in REVIEW_ACTIONS:
        messages.error(request, _("Unknown action."))
        return redirect("opinions:review", pk=case.pk)
    questions = list(case.questions.all())
    form_posted = "narrative" in request.POST  # disabled (read-only) fields are not posted
    if action == "save" and not form_posted:
        return redirect("opinions:review", pk=case.pk)
    try:
        if action in OPINION_ACTIONS:
            blinded.require_unblinded(actor=request.user, case=case)
        if form_posted and action in ("save", "complete_draft"):
            draft = services.current_draft(case)
            services.save_draft(actor=request.user, case=case, data=content_from(
                request.POST, questions, base_answers=draft.answers if draft else None))
        if action == "sign":  # an electronic signature: the signer confirms who they are (accounts.reauth),
            draft = services.current_draft(case)  # once the opinion itself can be signed
            if draft is not None:
                services.check_complete(draft)
            confirm_signer(request, request.POST.get("signing_secret"), what="opinion")
        if action != "save":
            params = {"message": request.POST.get("message", "")} if action == "request_info" else {}
            transition(actor=request.user, case=case, action=action, **params)
    except DomainError as exc:
        _not_found_passes(exc)
        case.refresh_from_db()
        form = None
        if action in OPINION_ACTIONS:
            form = (OpinionForm(data=request.POST, questions=questions) if form_posted
                    else OpinionForm.for_opinion(services.current_draft(case), questions, bound=True))
            form.show_errors(_without_secret(exc))
        return _render_review(request, case, relations, form=form, failed=(action, exc), status=exc.status,
                              signature_form=_signature_errors(exc))
    messages.success(request, str(REVIEW_ACTIONS[action]))
    return redirect("opinions:review", pk=case.pk)


def _review_message(request, case, relations):
    """A reply in the thread without leaving the review screen; errors shown at the reply box."""
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            post_message(actor=request.user, case=case, body=form.cleaned_data["body"])
        except DomainError as exc:  # the case ended meanwhile, say: above the page when the box is gone
            _not_found_passes(exc)
            placed = apply_error(form, exc, fields_only=True)
            return _render_review(request, case, relations, message_form=form, status=exc.status,
                                  failed=None if placed else (MESSAGE, exc))
        messages.success(request, _("Your message was sent."))
        return redirect(reverse("opinions:review", args=[case.pk]) + "#review-messages")
    return _render_review(request, case, relations, message_form=form, status=400)


@require_POST
@login_required
def autosave(request, pk):
    """Save the draft as the specialist types: JSON in, JSON out."""
    try:
        case = get_case(request.user, pk, audit=False)
        blinded.require_unblinded(actor=request.user, case=case)
        questions = list(case.questions.all())
        current = services.current_draft(case)
        data = content_from(request.POST, questions, base_answers=current.answers if current else None)
        draft = services.save_draft(actor=request.user, case=case, data=data)
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return JsonResponse({"saved": True, "version": draft.version, "updated_at": draft.updated_at.isoformat()})


@require_POST
@login_required
def amend(request, pk):
    """The signing specialist amends a delivered opinion: a new signed version with its reason."""
    case, relations = _review_case(request, pk, audit=False)
    questions = list(case.questions.all())
    signed = services.latest_signed(case)
    content = content_from(request.POST, questions, base_answers=signed.answers if signed else None)
    try:
        confirm_signer(request, request.POST.get("signing_secret"), what="opinion")
        transition(actor=request.user, case=case, action="amend", reason=request.POST.get("reason", ""),
                   opinion=content)
    except DomainError as exc:
        _not_found_passes(exc)
        form = AmendForm(data=request.POST, questions=questions)
        form.show_errors(_without_secret(exc))
        return _render_review(request, case, relations, amend_form=form, failed=("amend", exc),
                              status=exc.status, signature_form=_signature_errors(exc))
    messages.success(request, _("The amended opinion is signed."))
    return redirect("opinions:report", pk=case.pk)


@require_POST
@login_required
def independent_assessment(request, pk):
    """Blinded review: the reviewer's independent assessment, which then shows the first opinion."""
    case, relations = _review_case(request, pk, audit=False)
    form = AssessmentForm(data=request.POST)
    try:
        blinded.record_assessment(
            actor=request.user, case=case, diagnosis_impression=request.POST.get("diagnosis_impression", ""),
            impression_code=request.POST.get("impression_code", ""),
            recommended_treatment=request.POST.get("recommended_treatment", ""))
    except DomainError as exc:
        _not_found_passes(exc)
        form.show_errors(_field_errors(exc))
        return _render_review(request, case, relations, assessment_form=form, failed=("assessment", exc),
                              status=exc.status)
    messages.success(request, _("Your independent assessment is recorded. The submitted diagnosis and the "
                                "proposed treatment are now shown."))
    return redirect("opinions:review", pk=case.pk)


# --- report -------------------------------------------------------------------------------------------------

def _report_case(request, pk, action: str):
    try:
        return report.report_case(request.user, pk, action=action)
    except NotFound:
        raise Http404 from None
    except PermissionDenied:
        raise Forbidden from None


def _report_page_context(request, case) -> dict:
    """The report context with its body rendered in the patient's language."""
    context = report.report_context(case, request)
    if context["brand"].logo_png:
        context["logo_url"] = reverse("opinions:letterhead_logo", args=[context["brand"].organization_id])
    context["report_body"] = report.render_body(context, zone=display_zone(request))
    return context


def _render_report(request, case, *, share_form=None, share_failed=None, share=None, status=200):
    context = _report_page_context(request, case)
    can_share = case.status in (Status.DELIVERED, Status.CLOSED) and bool(
        rel.relations(request.user, case) & SHARERS)
    if can_share and share_form is None:
        share_form = ShareForm(initial={"recipient_name": case.treating_physician,
                                        "recipient_email": case.treating_physician_email})
    shares = list(case.report_shares.all()) if can_share else []
    for row in shares:
        row.state = services.share_state(row)
    context.update(pdf_url=reverse("opinions:report_pdf", args=[case.pk]), can_share=can_share,
                   share_form=share_form, share_failed=share_failed, share=share, shares=shares)
    return render(request, "opinions/report.html", context, status=status)


@never_cache
@login_required
def report_page(request, pk):
    case = _report_case(request, pk, "report.read")
    return _render_report(request, case)


@never_cache
@login_required
def report_pdf(request, pk):
    case = _report_case(request, pk, "report.download")
    return report.pdf_response(case, report.render_pdf(report.report_context(case, request)))


def _shared_response(response):
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"  # no-referrer would make form posts send Origin: null
    return response


# --- public verification of a signed report -----------------------------------------------------------------

@never_cache
def verify_lookup(request):
    """The public form where a printed verification code is typed in."""
    code = "".join(ch for ch in request.GET.get("code", "") if ch.isalnum())[:16]
    if code:
        return redirect("opinions:verify", code=code)
    return _shared_response(render(request, "opinions/verify.html", {"result": None}))


@never_cache
def verify(request, code):
    """Anyone holding a report checks it: valid, changed since signing, superseded, or unknown. Nothing clinical."""
    result = services.verify_report(code)
    context = {"result": result, "code": code}
    if result.opinion is not None:
        context["brand"] = report.letterhead(result.opinion.case.network)
    return _shared_response(render(request, "opinions/verify.html", context,
                                   status=404 if result.state == "unknown" else 200))


# --- the network's letterhead -------------------------------------------------------------------------------

def _admin_networks(user):
    from konsil.accounts.models import Organization
    from konsil.accounts.roles import OrganizationKind, Role

    if not user.is_authenticated:
        return Organization.objects.none()
    return user.organizations_for(Role.ORG_ADMIN).filter(kind=OrganizationKind.PROVIDER_NETWORK)


@never_cache
@login_required
def letterhead(request, org_id=None):
    """The network admin sets the name, logo, address and contact printed on the network's reports."""
    from .forms import LetterheadForm

    networks = list(_admin_networks(request.user))
    if not networks:
        raise Forbidden
    network = next((n for n in networks if org_id is None or str(n.pk) == str(org_id)), None)
    if network is None:
        raise Http404
    current = report.letterhead(network)
    if request.method == "POST":
        form = LetterheadForm(data=request.POST, files=request.FILES)
        if form.is_valid():
            services.save_letterhead(actor=request.user, organization=network, data=form.cleaned_data)
            messages.success(request, _("The letterhead is saved."))
            return redirect("opinions:letterhead_for", org_id=network.pk)
        status = 400
    else:
        form = LetterheadForm(initial={"display_name": current.name, "address": current.address,
                                       "phone": current.phone, "email": current.email, "website": current.website})
        status = 200
    logo_url = reverse("opinions:letterhead_logo", args=[network.pk]) if current.logo_png else ""
    return render(request, "opinions/letterhead.html", {
        "form": form, "network": network, "networks": networks, "brand": current, "logo_url": logo_url},
        status=status)


def letterhead_logo(request, org_id):
    """A network's logo (public branding, re-encoded PNG)."""
    import base64

    from django.http import HttpResponse

    from .models import Letterhead

    row = Letterhead.objects.filter(organization_id=org_id).exclude(logo_png="").first()
    if row is None:
        raise Http404
    response = HttpResponse(base64.b64decode(row.logo_png), content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response
