"""Audit pages: "who accessed my data" for patients, and the trail with chain verification for auditors."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from konsil.core import authz
from konsil.core.errors import PermissionDenied
from konsil.core.widgets import DateInput

from . import selectors, services
from .models import Outcome

ACTION_LABELS = {
    "case.read": gettext_lazy("Opened the case"),
    "case.list": gettext_lazy("Saw the case in a list"),
    "case.list_status": gettext_lazy("Saw the case's status in a program report"),
    "case.create": gettext_lazy("Created the case"),
    "case.update": gettext_lazy("Updated the case"),
    "patient.create": gettext_lazy("Created the patient record"),
    "patient.update": gettext_lazy("Updated the patient record"),
    "consent.sign": gettext_lazy("Signed the authorization"),
    "attachment.create": gettext_lazy("Uploaded a document"),
    "attachment.download": gettext_lazy("Downloaded a document"),
    "message.create": gettext_lazy("Wrote a message"),
    "triage.propose": gettext_lazy("Automatic triage proposal"),
    "opinion.save_draft": gettext_lazy("Worked on the opinion"),
    "opinion.sign": gettext_lazy("Signed the opinion"),
    "report.read": gettext_lazy("Opened the report"),
    "report.pdf": gettext_lazy("Downloaded the report"),
    "report.share": gettext_lazy("Gave the treating physician access to the report"),
    "report.read_shared": gettext_lazy("The treating physician opened the report"),
}
CHANNEL_LABELS = {"web": gettext_lazy("Web"), "api": gettext_lazy("API"), "cli": gettext_lazy("Command line"),
                  "worker": gettext_lazy("Background task"), "system": gettext_lazy("System")}


def action_label(action: str) -> str:
    """A human label for an audit action code; lifecycle actions use their transition's label."""
    from konsil.cases import lifecycle

    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    prefix, _sep, name = action.partition(".")
    transition = lifecycle.table().get(name) if prefix == "case" else None
    return transition.label if transition else action


def _present(events, user=None):
    from konsil.cases.views import RELATION_LABELS

    outcomes = dict(Outcome.choices)
    for event in events:
        event.action_label = action_label(event.action)
        event.role_label = RELATION_LABELS.get(event.role, event.role)
        event.outcome_label = outcomes.get(event.outcome, event.outcome)
        event.channel_label = CHANNEL_LABELS.get(event.channel, event.channel)
        event.is_self = user is not None and event.actor_id == user.pk
    return events


@login_required
def my_access(request):
    """The patient's own access log: who read or changed their data, when, and how."""
    from .presenters import grouped_access_log

    events = selectors.access_log_for_patient_user(request.user)
    return render(request, "audit/my_access.html", {"groups": grouped_access_log(events, request.user)})


class TrailFilterForm(forms.Form):
    action = forms.CharField(label=gettext_lazy("Action"), required=False, max_length=64,
                             help_text=gettext_lazy("Code or prefix, e.g. case. or attachment.download"))
    actor = forms.CharField(label=gettext_lazy("Actor email"), required=False, max_length=254)
    date_from = forms.DateField(label=gettext_lazy("From"), required=False,
                                widget=DateInput())
    date_to = forms.DateField(label=gettext_lazy("To"), required=False,
                              widget=DateInput())
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), required=False,
                                choices=[("", "—")] + list(Outcome.choices))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


@login_required
def trail(request):
    """The auditor's trail with filters; POST verifies the hash chain."""
    user = request.user
    if not authz.can("audit.view_trail", user):
        raise DjangoPermissionDenied(_("You do not have permission to do this."))
    if request.method == "POST":
        result = services.verify()
        services.emit(actor=user, action="audit.verify", role="auditor", purpose="compliance",
                      outcome=Outcome.SUCCESS if result.ok else Outcome.FAILURE,
                      detail={"verified": result.verified, "broken_seq": result.broken_seq})
        if result.ok:
            text = _("The chain is intact: %(n)d events verified.") % {"n": result.verified}
            messages.success(request, text)
        else:
            text = _("The chain is broken at event %(seq)s (%(n)d events verified before it).")
            messages.error(request, text % {"seq": result.broken_seq, "n": result.verified})
        return redirect("audit:trail")
    form = TrailFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    try:
        events = selectors.trail_for_auditor(user, filters)
    except PermissionDenied:
        raise DjangoPermissionDenied(_("You do not have permission to do this.")) from None
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    _present(page.object_list)
    return render(request, "audit/trail.html", {"page": page, "form": form})
