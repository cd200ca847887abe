"""One click from triage's missing items to records requests."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from konsil.cases.selectors import attachments_for, get_case
from konsil.core.errors import DomainError, NotFound, ValidationFailed
from konsil.triage.services import latest_proposal

from . import services


def _authorization(request, case):
    chosen = request.POST.get("authorization") or ""
    if not chosen:
        return None
    try:
        return attachments_for(request.user, case).get(pk=chosen)
    except (ValueError, DjangoValidationError, ObjectDoesNotExist):
        raise ValidationFailed(_("Choose a document of this case as the signed authorization."),
                               field="authorization") from None


@login_required
@require_POST
def request_records(request, pk):
    try:
        case = get_case(request.user, pk, action="records.request_page")
    except NotFound:
        raise Http404 from None
    proposal = latest_proposal(case)
    missing = {i["item"]: i for i in (proposal.missing_items if proposal else [])}
    items = [missing[code] for code in request.POST.getlist("items") if code in missing]
    try:
        created = services.request_missing(
            actor=request.user, case=case, items=items, method=request.POST.get("method", ""),
            facility=request.POST.get("facility", ""), destination=request.POST.get("destination", ""),
            authorization=_authorization(request, case),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)d records request(s) opened.") % {"n": len(created)})
    return redirect("cases:detail", pk=case.pk)
