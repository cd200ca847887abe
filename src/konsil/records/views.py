"""One click from triage's missing items to records requests."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from konsil.cases.selectors import get_case
from konsil.core.errors import DomainError, NotFound
from konsil.triage.services import latest_proposal

from . import services


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
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)d records request(s) opened.") % {"n": len(created)})
    return redirect("cases:detail", pk=case.pk)
