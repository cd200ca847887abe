"""Pages for a network's DICOM nodes and for pulling studies from a hospital PACS into a case.

- Node setup (a network's coordinators and org admins): the PACS and modalities a network works with (AE title,
  host, port, DICOMweb base, what each may do, on/off). Field-level errors, nothing half-saved, every change
  audited; the same model the `konsil dicom nodes` CLI writes.
- A case's PACS page (the case's coordinators): search a source PACS of the case's network (C-FIND or QIDO-RS by
  patient ID, name, birth date, study date, accession), pull a chosen study into the case (C-GET, C-MOVE or WADO-RS
  through `retrieve`), and follow each pull's progress. Search values are posted, never put in a URL.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from konsil.accounts.models import Organization, Role
from konsil.accounts.roles import OrganizationKind
from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.selectors import get_case
from konsil.core.errors import DomainError, NotFound
from konsil.core.pages import toggle_active

from . import nodes, retrieve
from .errors import RETRIEVE_ERRORS
from .intake import ATTACHABLE
from .models import DicomNode, RetrieveJob

# --- node setup --------------------------------------------------------------------------------------------------


def _networks(user):
    """The provider networks whose nodes `user` configures: where they are a coordinator or an org admin."""
    if not getattr(user, "is_authenticated", False):
        raise DjangoPermissionDenied
    ids = user.memberships.filter(role__in=[Role.COORDINATOR, Role.ORG_ADMIN], active=True).values("organization_id")
    orgs = Organization.objects.filter(pk__in=ids, kind=OrganizationKind.PROVIDER_NETWORK).order_by("name")
    if not orgs.exists():
        raise DjangoPermissionDenied(_("Only a network's coordinators and administrators configure its DICOM "
                                       "nodes."))
    return orgs


class NodeForm(forms.ModelForm):
    class Meta:
        model = DicomNode
        fields = ["network", "name", "ae_title", "host", "port", "dicomweb_url", "may_store", "may_query",
                  "is_source", "retrieve"]
        help_texts = {
            "ae_title": gettext_lazy("1 to 16 characters, as configured on the PACS; it calls Konsil with it"),
            "host": gettext_lazy("Its address (needed to query it, retrieve from it or move studies to it)"),
            "dicomweb_url": gettext_lazy("For example https://pacs.example.org/dicom-web (needed to retrieve "
                                         "with DICOMweb)"),
        }

    def __init__(self, *args, networks=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["network"].queryset = networks
        self.fields["network"].empty_label = None
        self.fields["network"].label = _("Network")
        self.fields["port"].widget.attrs.update({"min": 1, "max": 65535})
        self.fields["ae_title"].widget.attrs.update({"spellcheck": "false", "autocapitalize": "characters"})

    def clean_ae_title(self):
        title = (self.cleaned_data.get("ae_title") or "").strip()
        if not title or len(title) > 16 or any(c == "\\" or ord(c) < 32 or ord(c) > 126 for c in title):
            raise forms.ValidationError(_("An AE title is 1 to 16 characters, letters, digits and spaces; no "
                                          "backslash."))
        return title

    def clean_host(self):
        host = (self.cleaned_data.get("host") or "").strip()
        if host and (len(host) > 255 or any(c.isspace() or c in "/\\@" for c in host)):
            raise forms.ValidationError(_("Enter a host name or an IP address."))
        return host

    def clean_port(self):
        port = self.cleaned_data.get("port")
        if port is not None and not 1 <= port <= 65535:
            raise forms.ValidationError(_("A port is a number from 1 to 65535."))
        return port

    def clean(self):
        data = super().clean()
        if data.get("is_source"):
            if data.get("retrieve") == DicomNode.Retrieve.DICOMWEB:
                if not data.get("dicomweb_url") and "dicomweb_url" not in self.errors:
                    self.add_error("dicomweb_url", _("Give the DICOMweb base URL to retrieve with DICOMweb."))
            else:
                if not data.get("host") and "host" not in self.errors:
                    self.add_error("host", _("Give the host to search and retrieve from this PACS."))
                if data.get("port") is None and "port" not in self.errors:
                    self.add_error("port", _("Give the port to search and retrieve from this PACS."))
        return data


def _save_node(request, form, *, created: bool):
    """One transaction: the node and its audit event (a duplicate AE title raced in lands on its field)."""
    try:
        with transaction.atomic():
            node = form.save()
            emit(actor=request.user, action="dicom.node.add" if created else "dicom.node.change", obj=node,
                 detail={"network": str(node.network_id), "fields": sorted(form.changed_data)})
    except IntegrityError:
        form.add_error("ae_title", _("This AE title is already configured."))
        return None
    return node


@login_required
def node_list(request):
    networks = _networks(request.user)
    items = DicomNode.objects.filter(network__in=networks).select_related("network")
    emit(actor=request.user, action="dicom.nodes.view", object_type="accounts.organization",
         object_id=",".join(str(o.pk) for o in networks)[:64])
    return render(request, "records/nodes.html", {"nodes": items, "networks": networks})


@login_required
def node_new(request):
    networks = _networks(request.user)
    form = NodeForm(request.POST or None, networks=networks)
    if request.method == "POST" and form.is_valid() and _save_node(request, form, created=True):
        messages.success(request, _("%(name)s is configured.") % {"name": form.instance.name})
        return redirect("records:nodes")
    return render(request, "records/node_form.html", {"form": form, "node": None})


def _node(user, pk) -> DicomNode:
    node = DicomNode.objects.filter(pk=pk, network__in=_networks(user)).first()
    if node is None:
        raise Http404
    return node


@login_required
def node_edit(request, pk):
    networks = _networks(request.user)
    node = _node(request.user, pk)
    form = NodeForm(request.POST or None, instance=node, networks=networks)
    if request.method == "POST" and form.is_valid() and _save_node(request, form, created=False):
        messages.success(request, _("%(name)s is saved.") % {"name": form.instance.name})
        return redirect("records:nodes")
    if request.method == "POST":
        form.instance = DicomNode.objects.get(pk=node.pk)  # the page names the node as saved, not as typed
    return render(request, "records/node_form.html", {"form": form, "node": form.instance})


@login_required
@require_POST
def node_toggle(request, pk):
    node = toggle_active(request.user, DicomNode.objects.filter(network__in=_networks(request.user)), pk,
                         on="dicom.node.activate", off="dicom.node.deactivate")
    messages.success(request, _("%(name)s is switched on.") % {"name": node.name} if node.active
                     else _("%(name)s is switched off: it is refused from now on.") % {"name": node.name})
    return redirect("records:nodes")


# --- a case's PACS search and pulls ------------------------------------------------------------------------------


class SearchForm(forms.Form):
    node = forms.ChoiceField(label=gettext_lazy("PACS"))
    PatientID = forms.CharField(label=gettext_lazy("Patient ID"), required=False, max_length=64)
    PatientName = forms.CharField(label=gettext_lazy("Patient name"), required=False, max_length=64,
                                  help_text=gettext_lazy("Family^Given; * matches any characters, e.g. Garc*"))
    PatientBirthDate = forms.CharField(label=gettext_lazy("Birth date"), required=False, max_length=17,
                                       help_text=gettext_lazy("YYYYMMDD"))
    StudyDate = forms.CharField(label=gettext_lazy("Study date"), required=False, max_length=17,
                                help_text=gettext_lazy("YYYYMMDD, or a range YYYYMMDD-YYYYMMDD"))
    AccessionNumber = forms.CharField(label=gettext_lazy("Accession number"), required=False, max_length=16)

    def __init__(self, *args, sources=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["node"].choices = [(str(n.pk), f"{n.name} ({n.ae_title})") for n in sources]
        for name in ("PatientID", "PatientName", "PatientBirthDate", "StudyDate", "AccessionNumber"):
            self.fields[name].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})

    def _date(self, name):
        value = self.cleaned_data.get(name, "").strip()
        parts = value.split("-") if value else []
        if value and (len(parts) > 2 or not all(len(p) in (0, 8) and (not p or p.isdigit()) for p in parts)
                      or not any(parts)):
            raise forms.ValidationError(_("Enter a date as YYYYMMDD, or a range YYYYMMDD-YYYYMMDD."))
        return value

    def clean_PatientBirthDate(self):  # noqa: N802 -- the DICOM keyword
        return self._date("PatientBirthDate")

    def clean_StudyDate(self):  # noqa: N802 -- the DICOM keyword
        return self._date("StudyDate")


def _pacs_case(request, pk, action):
    """The case, for its coordinators only (others: 404 when they cannot see it, 403 when they can)."""
    try:
        case = get_case(request.user, pk, action=action)
    except NotFound:
        raise Http404 from None
    if rel.COORDINATOR not in rel.relations(request.user, case):
        raise DjangoPermissionDenied(_("Only the case's coordinators retrieve imaging into it."))
    return case


def _sources(user, case):
    return list(nodes.sources_for(user).filter(network_id=case.network_id))


def _render_case_pacs(request, case, form, *, found=None, node=None, status=200):
    jobs = list(RetrieveJob.objects.filter(case=case).select_related("node"))
    for job in jobs:
        job.error_message = RETRIEVE_ERRORS.get(job.error, "")
        job.running = job.state in (RetrieveJob.State.QUEUED, RetrieveJob.State.RUNNING)
    return render(request, "records/case_pacs.html", {
        "case": case, "form": form, "found": found, "node": node, "jobs": jobs,
        "has_sources": bool(form.fields["node"].choices), "open": case.status in ATTACHABLE,
        "running": any(job.running for job in jobs)}, status=status)


@login_required
def case_pacs(request, pk):
    """GET: the search form and the pulls; POST: a search on a source PACS (results shown, not stored)."""
    case = _pacs_case(request, pk, "dicom.pacs.page")
    sources = _sources(request.user, case)
    form = SearchForm(request.POST if request.method == "POST" else None, sources=sources)
    if request.method != "POST" or case.status not in ATTACHABLE:  # a closed case: the page says so, no search
        return _render_case_pacs(request, case, form, status=200 if request.method != "POST" else 409)
    found, node, status = None, None, 200
    if form.is_valid():
        node = next(n for n in sources if str(n.pk) == form.cleaned_data["node"])
        try:
            found = retrieve.find(actor=request.user, node_id=node.pk, keys=form.cleaned_data)
        except DomainError as exc:
            if exc.field and exc.field in form.fields:
                form.add_error(exc.field, str(exc.message))
            else:
                form.add_error(None, str(exc.message))
            status = exc.status if exc.status >= 500 else 400
    else:
        status = 400
    return _render_case_pacs(request, case, form, found=found, node=node, status=status)


@login_required
@require_POST
def case_pull(request, pk):
    case = _pacs_case(request, pk, "dicom.pacs.retrieve_page")
    try:
        retrieve.start(actor=request.user, case=case, node_id=request.POST.get("node", ""),
                       study_uid=request.POST.get("study_uid", ""))
    except DomainError as exc:  # not their PACS, not a UID, the case closed, the study already coming
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The study is being retrieved; its progress shows below."))
    return redirect("records:case-pacs", pk=case.pk)
