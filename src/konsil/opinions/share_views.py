"""Sharing the report with the treating physician (the patient's side) and the physician's page: the e-mailed link
carries a public id only; the physician proves who they are (a code e-mailed to them, or the patient's birth date)
before the report opens, for ACCESS_MINUTES in that browser."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.mail import send_mail
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from konsil.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed

from . import report, services
from .forms import ProofForm, ShareForm
from .views import (
    _field_errors,
    _not_found_passes,
    _render_report,
    _report_case,
    _report_page_context,
    _shared_response,
)

log = logging.getLogger(__name__)


def _share_mail(request, grant, language: str) -> bool:
    """The link (public id only) by email, in the physician's language (not the sharer's); reading it still needs
    the recipient's proof."""
    link = request.build_absolute_uri(reverse("opinions:shared", args=[grant.public_id]))
    with translation.override(language):
        body = _("%(name)s, a second-opinion report was shared with you on Konsil. Open the page below; to read "
                 "the report you will confirm who you are with a code sent to this address, or with the "
                 "patient's date of birth. The page works until %(date)s.\n\n%(link)s\n") % {
            "name": grant.recipient_name, "date": grant.expires_at.date().isoformat(), "link": link}
        subject = _("A second-opinion report was shared with you")
    try:
        send_mail(subject, body, None, [grant.recipient_email])
    except OSError:
        log.warning("report share email failed for share %s", grant.pk)
        return False
    return True


@require_POST
@never_cache
@login_required
def share(request, pk):
    """Share the report with the treating physician: they get an email with a link that asks for proof."""
    case = _report_case(request, pk, "report.read")
    form = ShareForm(data=request.POST)
    language = request.POST.get("language") or settings.LANGUAGE_CODE
    try:
        if language not in dict(settings.LANGUAGES):
            raise ValidationFailed(_("Choose a language from the list."), field="language")
        grant = services.share_report(
            actor=request.user, case=case, recipient_name=request.POST.get("recipient_name", ""),
            recipient_email=request.POST.get("recipient_email", ""), days=request.POST.get("days") or 14)
    except DomainError as exc:
        _not_found_passes(exc)
        form.show_errors(_field_errors(exc))
        return _render_report(request, case, share_form=form, share_failed=exc, status=exc.status)
    if _share_mail(request, grant, language):
        messages.success(request, _("The report was shared with %(name)s (%(email)s).") % {
            "name": grant.recipient_name, "email": grant.recipient_email})
    else:
        messages.warning(request, _("The email could not be sent. Give the physician the address of the "
                                    "shared page yourself: %(link)s") % {
            "link": request.build_absolute_uri(reverse("opinions:shared", args=[grant.public_id]))})
    return redirect(reverse("opinions:report", args=[case.pk]) + "#share-h")


@require_POST
@never_cache
@login_required
def share_revoke(request, pk, share_id):
    case = _report_case(request, pk, "report.read")
    try:
        grant = services.revoke_share(actor=request.user, case=case, share_id=share_id)
    except PermissionDenied:
        raise Forbidden from None
    except DomainError as exc:
        _not_found_passes(exc)
        messages.error(request, exc.message)
        return redirect(reverse("opinions:report", args=[case.pk]) + "#share-h")
    messages.success(request, _("Access for %(name)s is revoked.") % {"name": grant.recipient_name})
    return redirect(reverse("opinions:report", args=[case.pk]) + "#share-h")


# --- the treating physician's page: proof first, then the report --------------------------------------------

SHARE_SESSION_KEY = "konsil_report_shares"


def _proven(request, grant) -> bool:
    """Whether this browser proved itself for `grant` within the last ACCESS_MINUTES."""
    stamp = (request.session.get(SHARE_SESSION_KEY) or {}).get(str(grant.pk))
    return bool(stamp) and timezone.now().timestamp() - stamp < services.ACCESS_MINUTES * 60


def _remember_proof(request, grant) -> None:
    request.session.cycle_key()  # a fresh session id once proven
    proofs = {k: v for k, v in (request.session.get(SHARE_SESSION_KEY) or {}).items()
              if timezone.now().timestamp() - v < services.ACCESS_MINUTES * 60}
    proofs[str(grant.pk)] = timezone.now().timestamp()
    request.session[SHARE_SESSION_KEY] = proofs


def _invalid_link(request, exc=None):
    message = exc.message if exc is not None else _("This link is not valid or has expired.")
    return _shared_response(render(request, "opinions/shared_invalid.html", {"message": message}, status=404))


def _proof_page(request, grant, *, form=None, failed=None, sent=False, status=200):
    context = {"share": grant, "form": form or ProofForm(), "failed": failed, "code_sent": sent,
               "code_minutes": services.CODE_MINUTES}
    return _shared_response(render(request, "opinions/shared_proof.html", context, status=status))


@never_cache
def shared(request, public_id):
    """GET: the proof form, or the report once this browser has proven itself. POST: check a proof."""
    grant = services.find_share(public_id)
    if services.share_state(grant) in ("unknown", "revoked", "expired", "blocked"):
        try:
            services.open_shared_report(grant)  # audits the refusal
        except DomainError as exc:
            return _invalid_link(request, exc)
    if request.method == "POST":
        return _shared_proof(request, grant)
    if not _proven(request, grant):
        locked = None
        if services.share_state(grant) == "locked":
            locked = DomainError(_("Too many attempts. Try again in %(n)d minutes.") % {"n": services.LOCK_MINUTES})
        return _proof_page(request, grant, failed=locked)
    try:
        services.open_shared_report(grant)
    except DomainError as exc:
        return _invalid_link(request, exc)
    context = _report_page_context(request, grant.case)
    context.update(shared=True, pdf_url=reverse("opinions:shared_pdf", args=[grant.public_id]), share=grant)
    return _shared_response(render(request, "opinions/report.html", context))


def _shared_proof(request, grant):
    form = ProofForm(data=request.POST)
    method = request.POST.get("method", "")
    value = request.POST.get("code" if method == "email_code" else "birth_date", "")
    try:
        services.prove_recipient(share=grant, method=method, value=value)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            return _invalid_link(request, exc)
        form.show_errors(_field_errors(exc))
        grant.refresh_from_db()
        return _proof_page(request, grant, form=form, failed=exc, status=exc.status)
    _remember_proof(request, grant)
    return redirect("opinions:shared", public_id=grant.public_id)


@require_POST
@never_cache
def shared_code(request, public_id):
    """Email a one-time code to the share's recipient (the address the patient gave, never one typed here)."""
    grant = services.find_share(public_id)
    try:
        grant, code = services.send_share_code(share=grant)
    except NotFound as exc:
        return _invalid_link(request, exc)
    except DomainError as exc:
        return _proof_page(request, grant, failed=exc, status=exc.status)
    body = _("Your code to open the shared second-opinion report on Konsil is %(code)s. It works for %(n)d "
             "minutes, once. If you did not ask for it, ignore this email.") % {
        "code": code, "n": services.CODE_MINUTES}
    try:
        send_mail(_("Your Konsil code"), body, None, [grant.recipient_email])
    except OSError:
        log.warning("share code email failed for share %s", grant.pk)
        return _proof_page(request, grant, failed=DomainError(_("The email could not be sent. Use the patient's "
                                                                 "date of birth instead.")), status=503)
    return _proof_page(request, grant, sent=True)


@never_cache
def shared_pdf(request, public_id):
    grant = services.find_share(public_id)
    if grant is None or not _proven(request, grant):
        if grant is not None and services.share_state(grant) == "open":
            return redirect("opinions:shared", public_id=grant.public_id)
        return _invalid_link(request)
    try:
        services.open_shared_report(grant, action="report.download")
    except DomainError as exc:
        return _invalid_link(request, exc)
    return _shared_response(report.pdf_response(grant.case, report.render_pdf(
        report.report_context(grant.case, request))))
