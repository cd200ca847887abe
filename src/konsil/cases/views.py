"""Case pages: the intake wizard, the case page and its actions (the lists are in `list_views`).

Thin views: reads through `selectors` (scoped and audited), writes through `services`; a DomainError becomes a
message next to its field.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from konsil.accounts.models import Organization
from konsil.accounts.roles import OrganizationKind, Role
from konsil.core import authz, crypto, files
from konsil.core.context import reader_language
from konsil.core.errors import DomainError, NotFound
from konsil.matching import ranking
from konsil.matching import selectors as matching
from konsil.opinions import blinded
from konsil.records import reading
from konsil.records.intake import ATTACHABLE, UPLOADERS
from konsil.records.models import RequestMethod
from konsil.triage.presenters import present
from konsil.triage.services import latest_proposal

from . import coding, emergency, identity, lifecycle, selectors, services, signers
from . import relations as rel
from .choices import LANGUAGE_CHOICES, Channel, ConsentScope, SignerRelationship, Status
from .emergency_views import hidden_case
from .forms import (
    SCOPE_ON_BEHALF,
    ActionForm,
    AttachmentForm,
    ClinicalForm,
    ConsentForm,
    DirectoryFilterForm,
    MessageForm,
    PatientForm,
    PreferencesForm,
    QuestionsForm,
    apply_error,
)
from .models import Attachment, Patient

RELATION_LABELS = {
    rel.PATIENT: gettext_lazy("Patient"), rel.CAREGIVER: gettext_lazy("Caregiver"),
    rel.REQUESTER: gettext_lazy("Referring clinician"), rel.COORDINATOR: gettext_lazy("Care coordinator"),
    rel.SPECIALIST: gettext_lazy("Specialist"), rel.OFFERED: gettext_lazy("Specialist (offered)"),
    rel.SIGNER: gettext_lazy("Signing specialist"), rel.SPONSOR_ADMIN: gettext_lazy("Program admin"),
    rel.PANEL_MEMBER: gettext_lazy("Panel member"),
    "treating_physician": gettext_lazy("Treating physician"),
    rel.SYSTEM: gettext_lazy("Konsil (automatic)"),  # triage, routing, the clocks: not the raw word "system"
}
STEPS = ((1, gettext_lazy("Patient")), (2, gettext_lazy("Questions")),
         (3, gettext_lazy("Diagnosis and treatment")), (4, gettext_lazy("Urgency and delivery")),
         (5, gettext_lazy("Documents")), (6, gettext_lazy("Review and submit")))
REVIEW_SCREEN_ACTIONS = frozenset({"amend", "complete_draft", "revise_draft", "sign"})
SAFE_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


# --- helpers ------------------------------------------------------------------------------------------------

def _case_or_404(user, pk, **kwargs):
    try:
        return selectors.get_case(user, pk, **kwargs)
    except NotFound:
        raise hidden_case(user, pk) from None  # a 404 that offers break-glass to an eligible clinician


def _labelled(rows, attr: str = "role"):
    for row in rows:
        row.role_label = RELATION_LABELS.get(getattr(row, attr), getattr(row, attr))
    return rows


# --- intake wizard ------------------------------------------------------------------------------------------

def _intake_network(user):
    """The provider network the user belongs to (first by name); a single-network site's network otherwise."""
    networks = Organization.objects.filter(kind=OrganizationKind.PROVIDER_NETWORK, active=True)
    own = networks.filter(memberships__user=user, memberships__active=True).order_by("name").first()
    if own is not None:
        return own
    return networks.first() if networks.count() == 1 else None


def _intake_sponsor(user):
    """A referring clinician's hospital or diagnostic center sponsors the referral."""
    kinds = [OrganizationKind.HOSPITAL, OrganizationKind.DIAGNOSTIC_CENTER]
    return user.organizations_for(Role.REFERRING_CLINICIAN).filter(kind__in=kinds).order_by("name").first()


def _wizard(request, case, step: int, **context):
    context.setdefault("on_behalf", _on_behalf(request.user, case))
    return render(request, "cases/wizard.html", {"case": case, "step": step, "steps": STEPS, **context})


def _signer(user, case) -> str:
    """How the user stands to sign for the case (cases.signers: patient, clinician, representative)."""
    return signers.signer_kind(user, rel.relations(user, case))


def _on_behalf(user, case) -> bool:
    """Whether the user fills the wizard in for the patient (a referring clinician, a caregiver): then its words
    are about "the patient", not "you"."""
    if case is None:
        return not user.has_role(Role.PATIENT)
    return _signer(user, case) != signers.PATIENT


def _patient_initial(patient) -> dict:
    fields = ("given_name", "family_name", "birth_date", "sex", "country", "state", "county", "language", "email",
              "phone")
    return {name: getattr(patient, name) for name in fields} if patient else {}


def _language_of(user, is_patient: bool) -> str:
    """A first case's language: the patient's own (chosen at sign-up), else the language the page is read in."""
    codes = {code for code, _name in LANGUAGE_CHOICES}
    own = user.preferred_language if is_patient else ""
    if own in codes and own != "en":  # "en" is also the default of an account that never chose
        return own
    active = reader_language()
    return active if active in codes else "en"


@login_required
def new_case(request):
    """Intake step 1 for a new case: creates the draft."""
    user = request.user
    authz.require_page("case.create", user)
    network = _intake_network(user)
    is_patient = user.has_role(Role.PATIENT)
    patient = Patient.objects.filter(user=user).order_by("created_at").first() if is_patient else None
    initial = (_patient_initial(patient.current_identity()) if patient else
               {"email": user.email if is_patient else "", "given_name": user.first_name if is_patient else "",
                "family_name": user.last_name if is_patient else "", "language": _language_of(user, is_patient)})
    form = PatientForm(request.POST or None, initial=initial)
    if network is None:
        form.add_error(None, _("Your account is not linked to a provider network. Please contact support."))
    elif request.method == "POST" and form.is_valid():
        channel = Channel.PATIENT if user.has_role(Role.PATIENT, Role.CAREGIVER) else Channel.CLINICIAN
        sponsor = _intake_sponsor(user) if channel == Channel.CLINICIAN else None
        try:
            with transaction.atomic():
                case = services.create_case(actor=user, network=network, sponsor=sponsor,
                                            data={"patient": form.service_data(), "channel": channel})
                services.update_case(actor=user, case=case, data={"wizard_step": 2})
        except DomainError as exc:
            apply_error(form, exc, prefix="patient.")
        else:
            return redirect("cases:intake", pk=case.pk, step=2)
    return _wizard(request, None, 1, form=form)


def _save_step(request, case, step: int, form, data: dict):
    """Save a step's answers and move on; None (and errors on the form) when the service refuses."""
    data = {**data, "wizard_step": max(case.wizard_step, step + 1)}
    try:
        services.update_case(actor=request.user, case=case, data=data)
    except DomainError as exc:
        apply_error(form, exc, prefix="patient.")
        return None
    return redirect("cases:intake", pk=case.pk, step=step + 1)


def _rows(form, name: str, saved: list[str]) -> list[str]:
    rows = form.data.getlist(name) if form.is_bound else list(saved)
    return rows + [""] if not rows or "add_row" in form.data or not form.is_bound else rows


@login_required
def intake(request, pk, step: int):
    """Intake steps 1-6 of a draft: each "Save and continue" saves and remembers the step."""
    if step not in dict(STEPS):
        raise Http404(_("No such step."))
    case = _case_or_404(request.user, pk)
    if case.status != Status.DRAFT:
        messages.info(request, _("This case was submitted; it can no longer be edited."))
        return redirect("cases:detail", pk=case.pk)
    authz.require_page("case.edit", request.user, case)
    handler = {1: _step_patient, 2: _step_questions, 3: _step_clinical, 4: _step_preferences,
               5: _step_documents, 6: _step_review}[step]
    return handler(request, case)


def _post(request):
    return request.POST if request.method == "POST" else None


def _step_patient(request, case):
    form = PatientForm(_post(request), initial=_patient_initial(case.identity))
    if form.is_bound and form.is_valid():
        response = _save_step(request, case, 1, form, {"patient": form.service_data()})
        if response:
            return response
    return _wizard(request, case, 1, form=form)


def _step_questions(request, case):
    form = QuestionsForm(_post(request))
    if form.is_bound and "add_row" not in form.data and form.is_valid():
        response = _save_step(request, case, 2, form, {"questions": form.cleaned_data["questions"]})
        if response:
            return response
    rows = _rows(form, "questions", [q.text for q in case.questions.all()])
    return _wizard(request, case, 2, form=form, rows=rows)


def _step_clinical(request, case):
    fields = ("diagnosis_text", "proposed_treatment", "proposed_cpt", "treating_physician",
              "treating_physician_email", "treating_facility", "clinical_summary")
    form = ClinicalForm(_post(request), initial={name: getattr(case, name) for name in fields},
                        on_behalf=_on_behalf(request.user, case))
    if form.is_bound and "add_row" not in form.data and form.is_valid():
        response = _save_step(request, case, 3, form, dict(form.cleaned_data))
        if response:
            return response
    diagnoses = list(case.diagnoses.all())
    rows = _rows(form, "diagnoses", [d.code for d in diagnoses])
    return _wizard(request, case, 3, form=form, rows=rows, diagnoses=diagnoses)


def _covered_deliveries(case) -> set | None:
    """The deliveries the program funding the case pays for (programs.Enrollment), None when none funds it."""
    enrollment = getattr(case, "enrollment", None)  # the programs app's one-to-one; absent without it
    if enrollment is None or enrollment.self_pay:
        return None
    return set(enrollment.program.services)


def _step_preferences(request, case):
    form = PreferencesForm(_post(request), initial={"urgency": case.urgency,
                                                     "preferred_delivery": case.preferred_delivery,
                                                     "interpreter_needed": case.interpreter_needed},
                           on_behalf=_on_behalf(request.user, case), covered=_covered_deliveries(case))
    if form.is_bound and form.is_valid():
        response = _save_step(request, case, 4, form, dict(form.cleaned_data))
        if response:
            return response
    return _wizard(request, case, 4, form=form)


def _step_documents(request, case):
    """"Upload" stores the chosen file and stays; "Save and continue" stores a file chosen but not yet uploaded,
    then moves on (a refused file keeps the patient here, with the reason)."""
    form = _documents_form()
    if request.method == "POST":
        uploading = "upload" in request.POST
        if uploading or request.FILES.get("file"):
            form = _documents_form(request.POST, request.FILES)
            if form.is_valid() and not form.cleaned_data["file"]:
                form.add_error("file", AttachmentForm.base_fields["file"].error_messages["required"])
            if not (form.is_valid() and _upload(request, case, form)):
                return _wizard(request, case, 5, form=form, record_rows=_record_rows(request, case))
            if uploading:
                return redirect("cases:intake", pk=case.pk, step=5)
            form = _documents_form()
        response = _save_step(request, case, 5, form, {})
        if response:
            return response
    return _wizard(request, case, 5, form=form, record_rows=_record_rows(request, case))


def _documents_form(data=None, files=None) -> AttachmentForm:
    """The documents step's form: its file is optional there (the step may be passed without one), and needed
    only by "Upload"; so the page does not mark it required."""
    form = AttachmentForm(data, files)
    form.fields["file"].required = False
    return form


def _upload(request, case, form, *, raise_errors: bool = False) -> bool:
    try:
        services.add_attachment(actor=request.user, case=case, upload=form.cleaned_data["file"],
                                description=form.cleaned_data["description"])
    except DomainError as exc:
        if raise_errors:
            raise
        apply_error(form, exc)
        return False
    messages.success(request, _("The document was uploaded and stored encrypted."))
    return True


def _default_scope(case) -> list[str]:
    """What the authorization offers ticked: sending the opinion to a treating physician only when one is named
    (the patient can still tick it and name them later, when the opinion is shared)."""
    named = case.treating_physician.strip() or case.treating_physician_email.strip()
    return [scope for scope in ConsentScope.values if named or scope != ConsentScope.SHARE_REPORT]


def _step_review(request, case):
    consent = getattr(case, "consent", None)
    signer = _signer(request.user, case)
    initial = ({"scope": consent.scope, "signer_name": consent.signer_name} if consent
               else {"scope": _default_scope(case)})
    kept = consent.signer_relationship if consent else ""
    initial["signer_relationship"] = (kept if kept in signers.ALLOWED.get(signer, ())
                                      else signers.default_relationship(signer))
    form = ConsentForm(_post(request), initial=initial, signer=signer)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():  # the signature and the submission stand or fall together
                services.sign_consent(actor=request.user, case=case, scope=data["scope"],
                                      signer_name=data["signer_name"],
                                      signer_relationship=data["signer_relationship"])
                services.transition(actor=request.user, case=case, action="submit")
        except DomainError as exc:
            apply_error(form, exc, prefix="patient.")
        else:
            messages.success(request, _("The case was submitted. We will let you know when it moves on.")
                             if signer != signers.PATIENT
                             else _("Your case was submitted. We will let you know when it moves on."))
            return redirect("cases:detail", pk=case.pk)
    return _wizard(request, case, 6, form=form, record_rows=_record_rows(request, case), signer=signer,
                   on_behalf=signer != signers.PATIENT)


# --- the case page ------------------------------------------------------------------------------------------

@login_required
def detail(request, pk):
    return _render_detail(request, _case_or_404(request.user, pk))


def _proposal_view(case):
    return present(latest_proposal(case))


def _offer_options(request, case, specialties):
    """Ranked candidates with their reasons, or the directory filtered by specialty, state and language."""
    filter_form = DirectoryFilterForm(request.GET or None, specialties=specialties)
    filters = filter_form.filters()
    if filters:
        found = matching.by_name(matching.directory(network=case.network, **filters).filter(accepting=True),
                                 limit=50)
        options = [ranking.Ranked(s, 0.0, []) for s in found]
    else:
        options = ranking.rank(case)
    return filter_form, options


def _action_forms(request, case, relations, bound, context):
    transitions = [t for t in lifecycle.allowed_actions(case.status, relations)
                   if t.action not in REVIEW_SCREEN_ACTIONS]
    needs_catalog = any(t.action in ("triage", "offer", "retriage") for t in transitions)
    specialties = list(matching.specialties()) if needs_catalog else []
    proposal = context.get("proposal")
    forms = []
    for t in transitions:
        options = []
        if t.action == "offer":
            context["directory_form"], options = _offer_options(request, case, specialties)
        if bound is not None and bound.transition.action == t.action:
            form = bound
            form.specialists = options
        else:
            proposed = (proposal.specialty_id if proposal else None) or case.specialty_id
            initial = {"specialty": case.specialty_id if t.action == "retriage" and case.specialty_id else proposed,
                       "urgency": proposal.urgency if proposal else case.urgency}  # a change starts from the current
            form = ActionForm(t, initial=initial, specialties=specialties, specialists=options)
        forms.append(form)
    return forms


def _timeline(user, case, relations):
    """Status changes; the patient's side sees the reasons for cancelling or withdrawing only. Consult and
    follow-up steps join them for those who may see them (consults.timeline, outcomes.timeline)."""
    from konsil.consults import timeline as consult_timeline
    from konsil.outcomes import timeline as outcome_timeline

    care_team = bool(relations & {rel.COORDINATOR, rel.SPECIALIST, rel.OFFERED, rel.SIGNER})
    changes = _labelled(selectors.timeline_of(case))
    for change in changes:
        change.visible_note = change.note if care_team or change.action in ("cancel", "withdraw") else ""
        change.is_current = change is changes[-1]
    events = _labelled(consult_timeline.entries(user, case) + outcome_timeline.entries(user, case))
    return sorted(changes + events, key=lambda row: row.created_at)


def _record_rows(request, case) -> list:
    return reading.record_rows(selectors.attachment_list(request.user, case))


def _render_detail(request, case, *, bound=None, message_form=None, upload_form=None, error=None,
                   placed: bool = False):
    """The case page. `error` shows as a banner unless `placed` next to the fields of a form on the page."""
    user = request.user
    relations = rel.relations(user, case)
    prefetch_related_objects([case], "questions", "diagnoses")  # read by the page and its tags several times
    attachments = selectors.attachment_list(user, case)
    consent = getattr(case, "consent", None)
    for_self = consent is None or consent.signer_relationship == SignerRelationship.SELF
    scopes = dict(ConsentScope.choices if for_self else SCOPE_ON_BEHALF)  # in the signer's words
    context = {
        "case": case, "relations": relations, "error": error, "consent": consent,
        "consent_scope": [scopes.get(s, s) for s in consent.scope] if consent else [],
        "consent_signed_as": "" if for_self else dict(SignerRelationship.choices).get(consent.signer_relationship,
                                                                                        ""),
        "proposal": _proposal_view(case) if authz.can("case.view_triage", request.user, case) else None,
        "can_request_records": rel.COORDINATOR in relations,
        "request_methods": RequestMethod.choices,
        "records_requests": case.records_requests.all() if rel.COORDINATOR in relations else (),
        "timeline": _timeline(user, case, relations),
        "thread": _labelled(selectors.thread_of(user, case), "author_role"),
        "attachments": attachments,
        "record_rows": reading.record_rows(attachments),
        "offers": case.offers.select_related("specialist__user") if rel.COORDINATOR in relations else (),
        "can_message": authz.can("case.message", user, case),
        "can_upload": case.status in ATTACHABLE and bool(relations & UPLOADERS),
        "records_upload": reading.upload_context(case), "records_viewer": reading.viewer_context(case),
        "has_images": case.studies.exists(), "clinical": reading.clinical_context(case),
        "blinded": blinded.hidden_for(user, case),
        "identity_history": identity.history(case),
        "can_decide_codes": coding.may_decide(user, case),
        "panel_links": rel.COORDINATOR in relations,
        "can_edit": authz.can("case.edit", user, case),
        "can_view_contact": authz.can("case.view_contact", user, case),
        "emergency_grant": emergency.active_grant(user, case) if rel.EMERGENCY in relations else None,
        "can_read_report": authz.can("case.read_report", user, case),
        "is_reviewer": bool(relations & {rel.SPECIALIST, rel.SIGNER}),
        "patient_side": bool(relations & rel.PATIENT_SIDE),
        "message_form": message_form or MessageForm(),
        "upload_form": upload_form or AttachmentForm(),
    }
    context["action_forms"] = _action_forms(request, case, relations, bound, context)
    context["answers_info_request"] = any(f.transition.action == "provide_info" for f in context["action_forms"])
    shown = ((bound is not None and bound in context["action_forms"])
             or (message_form is not None and context["can_message"])
             or (upload_form is not None and context["can_upload"]))
    context["error"] = error if error is not None and not (placed and shown) else None
    return render(request, "cases/detail.html", context)


DONE = {  # what happened, in words, for the actions whose name alone says little
    "provide_info": gettext_lazy("Your answer was sent: the case is back with the specialist."),
    "request_info": gettext_lazy("Your request was sent: the case waits for the patient's answer."),
    "close": gettext_lazy("The case is closed. The report stays on the case page."),
    "accept": gettext_lazy("You accepted the case. Start the review from this page when you are ready."),
}


def _done(case, t) -> str:
    """The message after a lifecycle action: the offer names who was offered the case."""
    if t.action == "offer":
        offer = case.offers.filter(status="pending").select_related("specialist").order_by("-created_at").first()
        if offer is not None:
            return _("Offered to %(name)s.") % {"name": offer.specialist}
    return str(DONE.get(t.action) or _("Done: %(action)s.") % {"action": t.label})


@login_required
@require_POST
def transition(request, pk, action: str):
    """Take a lifecycle action from the case page; a refusal is shown on the page."""
    user = request.user
    case = _case_or_404(user, pk, audit=False)
    t = lifecycle.table().get(action)
    form = ActionForm(t, request.POST, specialties=matching.specialties()) if t else None
    try:
        case = services.transition(actor=user, case=case, action=action, **(form.params() if form else {}))
    except DomainError as exc:
        placed = form is not None and apply_error(form, exc, fields_only=True)
        return _render_detail(request, _case_or_404(user, pk), bound=form, error=exc, placed=placed)
    messages.success(request, _done(case, t))
    if authz.can("case.view", user, case):
        return redirect("cases:detail", pk=case.pk)
    return redirect("home")


@login_required
@require_POST
def post_message(request, pk):
    case = _case_or_404(request.user, pk, audit=False)
    form = MessageForm(request.POST)
    error, placed = None, True
    if form.is_valid():
        try:
            services.post_message(actor=request.user, case=case, body=form.cleaned_data["body"])
        except DomainError as exc:
            error, placed = exc, apply_error(form, exc, fields_only=True)
        else:
            messages.success(request, _("Your message was sent."))
            return _to_detail(case, "messages")
    return _render_detail(request, _case_or_404(request.user, pk), message_form=form, error=error,
                          placed=placed)


@login_required
@require_POST
def code_decision(request, pk):
    """Confirm or reject a code Konsil suggested (coordinators and the case's clinicians)."""
    case = _case_or_404(request.user, pk, audit=False)
    try:
        coding.decide(actor=request.user, case=case, code=request.POST.get("code", ""),
                      decision=request.POST.get("decision", ""))
    except DomainError as exc:
        return _render_detail(request, _case_or_404(request.user, pk), error=exc)
    messages.success(request, _("The code was confirmed.") if request.POST.get("decision") == "confirm"
                     else _("The suggestion was rejected."))
    return _to_detail(case, "diagnoses")


@login_required
@require_POST
def code_refresh(request, pk):
    """Read the case's words and records again for codes (coordinators and the case's clinicians)."""
    case = _case_or_404(request.user, pk, audit=False)
    if not coding.may_decide(request.user, case):
        raise DjangoPermissionDenied(_("You do not have permission to do this."))
    coding.refresh(actor=request.user, case=case)
    messages.success(request, _("Konsil read the case again for diagnosis codes."))
    return _to_detail(case, "diagnoses")


def _to_detail(case, anchor: str = ""):
    response = redirect("cases:detail", pk=case.pk)
    if anchor:
        response["Location"] += f"#{anchor}"
    return response


@login_required
@require_POST
def upload(request, pk):
    case = _case_or_404(request.user, pk, audit=False)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            _upload(request, case, form, raise_errors=True)
        except DomainError as exc:
            placed = apply_error(form, exc, fields_only=True)
            return _render_detail(request, _case_or_404(request.user, pk), upload_form=form, error=exc,
                                  placed=placed)
        return _to_detail(case, "documents")
    return _render_detail(request, _case_or_404(request.user, pk), upload_form=form)


def _safe_filename(name: str) -> str:
    name = re.sub(r"[\x00-\x1f\x7f\"\\/]+", "_", name or "").strip(" .")
    return name[:200] or "document"


@login_required
def attachment(request, pk, att):
    """Stream a decrypted document as a download (audited when opened): decrypted piece by piece, never read
    whole into memory; a pushed study comes as a zip of its instances."""
    from konsil.records import downloads

    case = _case_or_404(request.user, pk, audit=False)
    try:
        item = selectors.attachments_for(request.user, case).get(pk=att)
    except Attachment.DoesNotExist:
        raise Http404(_("Document not found.")) from None
    try:
        download = downloads.open_download(actor=request.user, attachment=item)
    except (files.IntegrityError, crypto.DecryptionError, OSError):
        messages.error(request, _("This document cannot be read right now. Please tell the care team."))
        return _to_detail(case, "documents")
    safe = SAFE_TYPE.match(download.content_type or "")
    response = StreamingHttpResponse(download.pieces,
                                     content_type=download.content_type if safe else "application/octet-stream")
    if download.size is not None:
        response["Content-Length"] = str(download.size)
    response["Content-Disposition"] = content_disposition_header(True, _safe_filename(download.filename))
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
