"""The report: who may read it (audited), what it shows, and its PDF (weasyprint, no network)."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.selectors import get_case
from konsil.core import authz, icd10
from konsil.core.errors import NotFound, PermissionDenied

from .services import latest_signed, verify_signature


def report_case(user, case_id, *, action: str = "report.read"):
    """The case whose report `user` may read ("case.read_report"); the read or refusal is audited."""
    case = get_case(user, case_id, action=action, audit=False)
    relation = rel.primary_relation(rel.relations(user, case))
    if not authz.can("case.read_report", user, case):
        emit(actor=user, action=action, obj=case, patient_id=case.patient_id, role=relation, outcome="denied")
        raise PermissionDenied(_("The report is not available to you yet."))
    emit(actor=user, action=action, obj=case, patient_id=case.patient_id, role=relation)
    return case


def audit_shared_download(share) -> None:
    emit(actor=f"share:{share.recipient_email}", action="report.download", obj=share.case,
         patient_id=share.case.patient_id, role="treating_physician")


def report_context(case) -> dict:
    """Everything the report shows, from the latest signed version; NotFound when nothing is signed."""
    opinion = latest_signed(case)
    if opinion is None:
        raise NotFound(_("There is no signed opinion yet."))
    answers = opinion.answers or {}
    signed = case.opinions.filter(signed_at__isnull=False).select_related("signed_by")
    versions = list(signed.order_by("version"))
    for version in versions:
        version.verified = verify_signature(version)
    return {
        "case": case,
        "patient": case.patient,
        "opinion": opinion,
        "signer": opinion.signed_by,
        "verified": verify_signature(opinion),
        "questions": [(q, answers.get(str(q.pk), "")) for q in case.questions.all()],
        "diagnoses": list(case.diagnoses.all()),
        "revised_name": icd10.describe(opinion.revised_diagnosis) if opinion.revised_diagnosis else "",
        "versions": versions,
        **_panel_and_blinding(case),
    }


def _panel_and_blinding(case) -> dict:
    """The panel with each member's role and any dissent; independent assessments of a blinded review."""
    from . import blinded, panels

    members = panels.report_rows(case)
    return {"panel": members[0].panel if members else None, "panel_members": members,
            "independent_assessments": blinded.for_report(case)}


def _refuse_fetch(url, *args, **kwargs):
    raise ValueError("external resources are disabled in reports")


def _no_network_fetcher():
    """Report PDFs load nothing: no fonts, images or styles from anywhere but the HTML itself."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # weasyprint < 66 takes a plain function
        return _refuse_fetch
    return URLFetcher(allowed_protocols=frozenset())


def render_pdf(context: dict) -> bytes:
    import weasyprint  # imported late: it loads system libraries

    html = render_to_string("opinions/report_print.html", context)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=_no_network_fetcher()).write_pdf()


def pdf_response(case, pdf: bytes) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="konsil-report-{case.reference}.pdf"'
    return response
