"""The break-glass page: a clinician of the case's network gives a reason and reads the case for an hour."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from konsil.core.errors import NotFound, ValidationFailed

from . import emergency


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for emergency access"), min_length=emergency.REASON_MIN, max_length=emergency.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Why this case must be opened now. The network's coordinators and auditors are alerted, and "
                    "the patient sees this access in their log."))


class HiddenCase(Http404):
    """A case page the user cannot see. `break_glass_url` is set only for a clinician who may open it in an
    emergency; the 404 page (core.views.not_found) then offers that path, and otherwise says nothing more."""

    def __init__(self, message, break_glass_url: str = ""):
        super().__init__(message)
        self.break_glass_url = break_glass_url


def hidden_case(user, pk) -> HiddenCase:
    return HiddenCase(_("Case not found."), emergency.offer(user, pk))


@login_required
def break_glass(request, pk):
    try:
        case = emergency.find_case(request.user, pk)
        emergency.check_allowed(request.user, case)
    except NotFound:
        raise Http404(_("Case not found.")) from None
    form = BreakGlassForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                emergency.break_glass(actor=request.user, case=case, reason=form.cleaned_data["reason"])
                return redirect("cases:detail", pk=case.pk)
            except ValidationFailed as exc:
                form.add_error("reason", exc.message)
        status = 400
    return render(request, "cases/emergency.html",
                  {"case": case, "form": form, "minutes": emergency.GRANT_MINUTES}, status=status)
