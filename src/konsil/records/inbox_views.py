"""The coordinators' imaging inbox page: studies pushed by a PACS that no case claimed; attach or reject."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from konsil.cases.selectors import cases_for, get_case
from konsil.core.errors import DomainError, NotFound, PermissionDenied

from . import inbox


@login_required
def inbox_page(request):
    try:
        items = inbox.inbox_for(request.user)
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    rows = [{"item": item, "suggestions": inbox.suggestions(request.user, item)} for item in items]
    return render(request, "records/inbox.html", {"rows": rows})


def _case_id(user, value: str) -> str:
    """A case id, or a Konsil reference (K-XXXXXXXX) of a case the user sees."""
    value = (value or "").strip()
    if value.upper().startswith("K-"):
        found = cases_for(user).filter(reference=value.upper()).values_list("pk", flat=True).first()
        return str(found or "")
    return value


@login_required
@require_POST
def decide(request, pk):
    try:
        item = inbox.get_item(request.user, pk)
        if request.POST.get("action") == "reject":
            inbox.reject(actor=request.user, item=item)
            messages.success(request, _("The study was rejected and deleted."))
        else:
            case = get_case(request.user, _case_id(request.user, request.POST.get("case", "")),
                            action="dicom.inbox.attach_page")
            count = inbox.attach(actor=request.user, item=item, case=case)
            messages.success(request, _("%(n)d images attached to case %(ref)s.") % {"n": count,
                                                                                      "ref": case.reference})
    except NotFound:
        messages.error(request, _("Choose a case you coordinate."))
    except DomainError as exc:
        messages.error(request, exc.message)
    except ValueError:
        messages.error(request, _("Choose a case you coordinate."))
    return redirect("records:inbox")
