"""The report: who may read it (audited), what it shows, and its PDF (weasyprint, no network).

The report is written in the patient's language (labels included), whoever reads it; it carries the network's
letterhead, the signer's credentials, the records reviewed, a plain-language summary first and the clinical detail
after, a verification link with its QR code (no raw hash), and the paper size of the patient's country.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext_lazy

from konsil.audit.services import emit
from konsil.cases import relations as rel
from konsil.cases.selectors import get_case
from konsil.core import authz, icd10
from konsil.core.errors import NotFound, PermissionDenied

from .models import DiagnosisVerdict, Letterhead, TreatmentVerdict
from .services import latest_signed, patient_identity, verify_signature

# Countries that print on US Letter; everyone else uses A4 (ISO 216).
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PR", "PH", "CL", "CO", "VE", "CR", "GT", "DO", "SV", "PA"})


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


def report_language(case) -> str:
    """The patient's language when Konsil speaks it, else the site's default."""
    language = (getattr(patient_identity(case), "language", "") or "").lower()
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE.split("-")[0]


# a language's name inside a sentence ("escribió en inglés"), where the language menu's label is capitalized
IN_A_SENTENCE = {"en": pgettext_lazy("inside a sentence", "English"),
                 "es": pgettext_lazy("inside a sentence", "Spanish"),
                 "ja": pgettext_lazy("inside a sentence", "Japanese")}


def written_in(opinion) -> str:
    """The language the specialist's own words are in: their preferred language when Konsil speaks it."""
    language = (opinion.author.user.preferred_language or "").lower()
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE.split("-")[0]


def paper_size(case) -> str:
    """CSS @page size: Letter for patients in Letter countries (the US and its neighbours), A4 elsewhere."""
    country = (getattr(patient_identity(case), "country", "") or "").upper()
    if not country:
        return "letter" if report_language(case) == "en" else "A4"
    return "letter" if country in LETTER_COUNTRIES else "A4"


@dataclass
class Brand:
    """The letterhead printed on the report: a network's own, or the installation's name."""

    name: str
    address: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""
    logo_png: str = ""
    organization_id: object = None


def letterhead(organization) -> Brand:
    row = Letterhead.objects.filter(organization=organization).first() if organization is not None else None
    if row is None:
        return Brand(name=getattr(settings, "KONSIL_BRAND_NAME", "") or "Konsil")
    return Brand(name=row.display_name, address=row.address, phone=row.phone, email=row.email,
                 website=row.website, logo_png=row.logo_png, organization_id=row.organization_id)


def credentials(specialist) -> dict:
    """What qualifies the signer: specialties, boards, licences with numbers and jurisdictions, institution."""
    if specialist is None:
        return {}
    return {
        "name": specialist.user.display_name,
        "npi": specialist.npi,
        "institution": specialist.institution,
        "specialties": [str(s) for s in specialist.specialties.all()] + [
            str(s) for s in specialist.subspecialties.all()],
        "boards": [b for b in (specialist.board_certifications or []) if isinstance(b, dict)],
        "licenses": sorted(specialist.licenses.all(), key=lambda lic: (lic.country != "US", lic.country,
                                                                        lic.state)),
    }


@dataclass
class Reviewed:
    kind: str
    title: str
    date: object
    detail: str = ""
    dated: str = ""  # what the date is: the study's own date, or the day the record was received


def records_reviewed(case) -> list[Reviewed]:
    """The documents and imaging studies of the case, with their dates (study date, else the day received)."""
    from konsil.cases.models import Attachment

    rows = []
    docs = case.attachments.filter(status=Attachment.Processing.READY).exclude(kind__in=("dicom", "zip", ""))
    for doc in docs.order_by("created_at"):
        rows.append(Reviewed(kind=_("Document"), title=doc.description or doc.filename,
                             date=timezone.localdate(doc.created_at), detail=doc.kind.upper(), dated=_("received")))
    for study in case.studies.all().prefetch_related("series"):
        series = len(study.series.all())
        rows.append(Reviewed(kind=_("Imaging study"), title=study.description or study.modalities or _("Study"),
                             date=study.study_date or timezone.localdate(study.created_at),
                             dated=_("study date") if study.study_date else _("received"),
                             detail=" · ".join(filter(None, [study.modalities, series and ngettext(
                                 "%(n)d series", "%(n)d series", series) % {"n": series}]))))
    return rows


# "Further tests" written as none ("None needed now", "No further tests", "Ninguna", "不要です"): no line saying
# the specialist recommends more tests.
NO_TESTS = re.compile(
    r"\s*(?:none|nothing|no(?:\s+(?:further|more|additional|other|new))?\s+(?:tests?|testing|studies|work-?up)\b"
    r"|no\b(?=\W*$)|not\s+(?:needed|necessary|required|indicated)|n/?a\b|nil\b"
    r"|ningun[oa]|no\s+(?:se\s+)?(?:necesita|requiere|hace\s+falta)|nada\b|no\s+(?:hay|son)\s+necesari"
    r"|[^。.\n]{0,30}?(?:不要|必要(?:は)?ありません|必要ない)|なし|特に(?:なし|ありません))",
    re.IGNORECASE)


def plain_summary(opinion, revised_name: str) -> list[str]:
    """The opinion in plain words for the patient, from its structured verdicts (the detail follows)."""
    lines = []
    verdict = opinion.diagnosis_verdict
    if verdict == DiagnosisVerdict.CONFIRMED:
        lines.append(_("The specialist agrees with your diagnosis."))
    elif verdict == DiagnosisVerdict.REFINED:
        lines.append(_("The specialist agrees, and makes your diagnosis more precise: %(name)s.")
                     % {"name": revised_name or opinion.revised_diagnosis})
    elif verdict == DiagnosisVerdict.CHANGED:
        lines.append(_("The specialist thinks your diagnosis is different: %(name)s.")
                     % {"name": revised_name or opinion.revised_diagnosis})
    treatment = {
        TreatmentVerdict.AGREE: _("The specialist agrees with the treatment your doctor proposed."),
        TreatmentVerdict.MODIFY: _("The specialist suggests changes to the treatment your doctor proposed."),
        TreatmentVerdict.ALTERNATIVE: _("The specialist recommends a different treatment."),
        TreatmentVerdict.AGAINST: _("The specialist recommends against the treatment your doctor proposed."),
    }.get(opinion.treatment_verdict)
    if treatment:
        lines.append(treatment)
    if opinion.further_tests and not NO_TESTS.match(opinion.further_tests):
        lines.append(_("The specialist recommends more tests (listed below)."))
    lines.append(_("Take this report to your doctor and talk it over before you change your treatment."))
    return lines


def verification_url(opinion, request=None) -> str:
    path = reverse("opinions:verify", args=[opinion.verify_code]) if opinion.verify_code else ""
    if not path:
        return ""
    if request is not None:
        return request.build_absolute_uri(path)
    base = (getattr(settings, "KONSIL_SITE_URL", "") or "").rstrip("/")
    return base + path


def qr_svg(url: str) -> str:
    """An SVG QR code of `url` (drawn by qrcode: no script, no user text)."""
    if not url:
        return ""
    import qrcode
    from qrcode.image.svg import SvgPathImage

    svg = qrcode.make(url, image_factory=SvgPathImage, box_size=10, border=1).to_string(encoding="unicode")
    return mark_safe(svg[svg.index("<svg"):])  # noqa: S308 - drawn by qrcode from our own URL


def format_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def report_context(case, request=None) -> dict:
    """Everything the report shows, from the latest signed version; NotFound when nothing is signed."""
    opinion = latest_signed(case)
    if opinion is None:
        raise NotFound(_("There is no signed opinion yet."))
    answers = opinion.answers or {}
    signed = case.opinions.filter(signed_at__isnull=False).select_related("signed_by")
    versions = list(signed.order_by("version"))
    for version in versions:
        version.verified = verify_signature(version)
    language = report_language(case)
    words = written_in(opinion)
    with translation.override(language):
        words_name = str(IN_A_SENTENCE.get(words, dict(settings.LANGUAGES)[words])) if words != language else ""
        revised_name = icd10.describe(opinion.revised_diagnosis) if opinion.revised_diagnosis else ""
        summary = plain_summary(opinion, revised_name)
        reviewed = records_reviewed(case)
    verify_url = verification_url(opinion, request)
    return {
        "case": case,
        "patient": patient_identity(case),
        "opinion": opinion,
        "signer": opinion.signed_by,
        "verified": verify_signature(opinion),
        "questions": [(q, answers.get(str(q.pk), "")) for q in case.questions.all()],
        "diagnoses": list(case.diagnoses.all()),
        "revised_name": revised_name,
        "versions": versions,
        "report_language": language,
        "written_in": words,  # the specialist's free text: marked with its language (WCAG 3.1.2)
        "written_in_name": words_name,  # set when it differs from the report's: the report says so
        "paper_size": paper_size(case),
        "brand": letterhead(case.network),
        "credentials": credentials(opinion.author),
        "reviewed": reviewed,
        "plain_summary": summary,
        "verify_url": verify_url,
        "verify_code": format_code(opinion.verify_code),
        "verify_qr": qr_svg(verify_url),
        **_panel_and_blinding(case),
    }


def render_body(context: dict, *, zone: str | None = None) -> str:
    """The report body in the patient's language (not the reader's), its times in `zone` (the reader's on the
    page, core.zones) or the deployment's (the PDF); the signature names the zone."""
    with translation.override(context["report_language"]), timezone.override(zone or settings.TIME_ZONE):
        return render_to_string("opinions/_report_body.html", context)


def _panel_and_blinding(case) -> dict:
    """The panel with each member's role and any dissent; independent assessments of a blinded review."""
    from . import blinded, panels

    members = panels.report_rows(case)
    panel = members[0].panel if members else None
    waived = list(panel.open_seats.filter(waived_at__isnull=False).select_related("role")) if panel else []
    return {"panel": panel, "panel_members": members, "panel_waived": waived,
            "independent_assessments": blinded.for_report(case)}


def _refuse_fetch(url, *args, **kwargs):
    if str(url).startswith("data:"):  # the letterhead's logo, inside the HTML itself
        from weasyprint.urls import default_url_fetcher

        return default_url_fetcher(url)
    raise ValueError("external resources are disabled in reports")


def _no_network_fetcher():
    """Report PDFs load nothing from anywhere: only data: URIs inside the HTML (the letterhead's logo)."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # weasyprint < 66 takes a plain function
        return _refuse_fetch
    return URLFetcher(allowed_protocols=frozenset({"data"}))


def layout(context: dict):
    """The report laid out in pages (a weasyprint Document), in the patient's language."""
    import weasyprint  # imported late: it loads system libraries

    with translation.override(context["report_language"]):
        html = render_to_string("opinions/report_print.html", context)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=_no_network_fetcher()).render()


def render_pdf(context: dict) -> bytes:
    return layout(context).write_pdf()


def pdf_response(case, pdf: bytes) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="konsil-report-{case.reference}.pdf"'
    return response
