"""Matching pages: bulk import of specialists, batch assignment runs and their proposals (coordinators)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from konsil.accounts.roles import OrganizationKind, Role
from konsil.cases.selectors import audit_list
from konsil.core import authz
from konsil.core.errors import DomainError

from . import importing, selectors, services
from .forms import ImportForm
from .models import BatchProposal
from .permissions import managed_networks


@login_required
def import_specialists(request):
    """Upload a CSV or JSON Lines file of specialists; the page shows the per-row report."""
    authz.require_page("matching.import", request.user)
    networks = managed_networks(request.user)
    form = ImportForm(request.POST or None, request.FILES or None, networks=networks)
    report = None
    if request.method == "POST" and form.is_valid():
        network = form.cleaned_data["network"]
        authz.require_page("matching.import", request.user, network)
        report = importing.import_specialists(form.cleaned_data["file"], fmt=form.cleaned_data["fmt"],
                                              network=network, actor=request.user)
        if report.file_error:
            form.add_error("file", report.file_error)
    return render(request, "matching/import.html", {"form": form, "report": report},
                  status=400 if form.errors else 200)


def _coordinated(user):
    return user.organizations_for(Role.COORDINATOR).filter(kind=OrganizationKind.PROVIDER_NETWORK)


def _network(request, source):
    networks = _coordinated(request.user)
    wanted = source.get("network")
    try:
        network = networks.filter(pk=wanted).first() if wanted else networks.first()
    except (ValueError, DjangoValidationError):  # a malformed id
        network = None
    if network is None:
        raise Http404(_("Network not found."))
    return network


@login_required
def batch(request):
    """The latest batch runs of a network and the open proposals of its last finished run."""
    authz.require_page("matching.batch", request.user)
    network = _network(request, request.GET)
    runs = list(selectors.runs_for([network])[:10])
    last = next((r for r in runs if r.state == "done"), None)
    proposals = list(selectors.proposals_of(last)) if last else []
    audit_list(request.user, [p.case for p in proposals], action="matching.batch_view")
    return render(request, "matching/batch.html", {
        "network": network, "networks": _coordinated(request.user), "runs": runs, "last": last,
        "proposals": proposals, "pending": services.pending_cases(network).count()})


@login_required
@require_POST
def run_batch(request):
    authz.require_page("matching.batch", request.user)
    network = _network(request, request.POST)
    try:
        services.request_batch(actor=request.user, network=network)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Batch assignment queued; its proposals appear here when it finishes."))
    return redirect(f"{reverse('matching:batch')}?network={network.pk}")


@login_required
@require_POST
def offer(request, pk):
    authz.require_page("matching.batch", request.user)
    proposal = BatchProposal.objects.select_related("run").filter(
        pk=pk, run__network__in=_coordinated(request.user)).first()
    if proposal is None:
        raise Http404(_("Proposal not found."))
    try:
        case = services.offer_proposal(actor=request.user, proposal=proposal)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Case %(ref)s was offered.") % {"ref": case.reference})
    return redirect(f"{reverse('matching:batch')}?network={proposal.run.network_id}")


# --- never a dead end: ways out, auto-routing setting -------------------------------------------------------------

@login_required
@require_POST
def way_out(request, pk, way: str):
    """Take a way out of "nobody eligible" from the case page (an interpreter, the consult path, escalation)."""
    from konsil.cases.selectors import get_case
    from konsil.core.errors import NotFound

    from . import routing

    try:
        case = get_case(request.user, pk, action="matching.way_out", audit=False)
    except NotFound:
        raise Http404(_("Case not found.")) from None
    try:
        routing.take_way_out(actor=request.user, case=case, way=way, reason=request.POST.get("reason", ""),
                             network=request.POST.get("network") or None)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, {
            "interpreter": _("An interpreter is requested: specialists who need one can now take the case."),
            "consult_path": _("The opinion goes to the patient's local physician in consultation."),
            "escalate": _("The network's coordinators were alerted."),
            "other_network": _("The case was referred to the other network; its coordinators were told."),
        }[way])
    return redirect(reverse("cases:detail", kwargs={"pk": case.pk}) + "#actions")


@login_required
def routing_settings(request):
    """A network admin turns auto-routing on or off."""
    from . import routing

    networks = [n for n in request.user.organizations_for(Role.ORG_ADMIN).filter(
        kind=OrganizationKind.PROVIDER_NETWORK)]
    if not networks:
        raise DjangoPermissionDenied(_("You do not have permission to do this."))
    if request.method == "POST":
        network = next((n for n in networks if str(n.pk) == request.POST.get("network")), None)
        if network is None:
            messages.error(request, _("Choose a provider network."))
        else:
            try:
                routing.set_auto_route(actor=request.user, network=network,
                                       on=request.POST.get("auto_route") in ("on", "true", "1"))
            except DomainError as exc:
                messages.error(request, str(exc.message))
            else:
                messages.success(request, _("Saved."))
        return redirect("matching:routing")
    rows = [(n, routing.auto_route_on(n)) for n in networks]
    return render(request, "matching/routing.html", {"rows": rows})
