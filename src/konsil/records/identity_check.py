"""Wrong-patient check: a record whose patient name or birth date disagrees with the case's patient is flagged.

Read from the record itself: a document's "Patient: …" / "Name: …" and "DOB: …" lines, a DICOM file's PatientName
and PatientBirthDate, a FHIR Patient resource's name and birthDate. Compared with the identity version the case was
submitted with (accents, case, punctuation and name order ignored; an initial counts for a given name).

Only a flag is stored on the record (`Attachment.detail["identity"]`: status, the fields that disagree and where
they were read: never the names or dates themselves); the patient's side and the coordinators are notified, the case
page, the records list and the specialist's review screen show it. A coordinator confirms the record belongs to the
patient ("same person, different spelling") or removes it from the case; both are audited.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import unicodedata

from django.db import transaction
from django.utils import timezone

from konsil.audit.services import emit
from konsil.core.prepared import ID, Prepared

logger = logging.getLogger(__name__)

MISMATCH, CONFIRMED = "mismatch", "confirmed"
TEXT_KINDS = ("pdf", "text")
_NAME_LABEL = re.compile(
    r"(?im)^[ \t]*(?:patient(?:'s)?(?: full)?(?: name)?|pt\.?(?: name)?|name(?: of patient)?|patient name)"
    r"[ \t]*[:#][ \t]*([^\n:]{2,80}?)(?=[ \t]{2,}|[ \t]+(?:dob|d\.o\.b|date of birth|birth ?date|born|mrn|sex|age)\b"
    r"|[ \t]*[,;|][ \t]*(?:dob|d\.o\.b|date of birth|mrn|sex|age)\b|[ \t]*$)")
_BIRTH_LABEL = re.compile(
    r"(?i)\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|born(?: on)?|fecha de nacimiento)[ \t]*[:#]?[ \t]*"
    r"(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|[A-Za-z]{3,9}\.? \d{1,2},? \d{4}"
    r"|\d{1,2} [A-Za-z]{3,9},? \d{4})")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                        "dec"), start=1)}
_HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "sr", "sra", "srta", "jr", "ii", "iii", "md"}


# ---------------------------------------------------------------- reading identities out of a record


def _date(value: str) -> dt.date | None:
    value = (value or "").strip().rstrip(".,")
    try:
        if re.fullmatch(r"\d{8}", value):
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
            y, m, d = (int(p) for p in value.split("-"))
            return dt.date(y, m, d)
        m = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})", value)
        if m:
            a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            y = y + (1900 if y > 30 else 2000) if y < 100 else y
            month, day = (b, a) if a > 12 else (a, b)  # US order unless the first number cannot be a month
            return dt.date(y, month, day)
        m = re.fullmatch(r"([A-Za-z]{3,9})\.? (\d{1,2}),? (\d{4})", value) or None
        if m and m.group(1)[:3].lower() in _MONTHS:
            return dt.date(int(m.group(3)), _MONTHS[m.group(1)[:3].lower()], int(m.group(2)))
        m = re.fullmatch(r"(\d{1,2}) ([A-Za-z]{3,9}),? (\d{4})", value)
        if m and m.group(2)[:3].lower() in _MONTHS:
            return dt.date(int(m.group(3)), _MONTHS[m.group(2)[:3].lower()], int(m.group(1)))
    except ValueError:
        return None
    return None


def from_text(text: str) -> list[dict]:
    """[{"name", "birth_date", "source": "document"}] from a document's labelled lines (the first of each)."""
    text = re.sub(r"[\f\r\v]", "\n", text or "")
    name_match = _NAME_LABEL.search(text[:20000])
    birth_match = _BIRTH_LABEL.search(text[:20000])
    name = name_match.group(1).strip(" ,;") if name_match else ""
    if name and not re.search(r"[A-Za-zÀ-ÿ]{2}", name):
        name = ""
    birth = _date(birth_match.group(1)) if birth_match else None
    return [{"name": name, "birth_date": birth, "source": "document"}] if name or birth else []


def from_dicom(data: bytes) -> list[dict]:
    from . import dicom

    try:
        ds = dicom.read(data, pixels=False)
    except Exception:  # noqa: BLE001 - an unreadable header gives no identity; processing reports the file
        return []
    name = str(getattr(ds, "PatientName", "") or "").replace("^", " ").strip()
    birth = _date(str(getattr(ds, "PatientBirthDate", "") or ""))
    return [{"name": name, "birth_date": birth, "source": "dicom"}] if name or birth else []


def _patients(resource) -> list[dict]:
    if not isinstance(resource, dict):
        return []
    if resource.get("resourceType") == "Patient":
        return [resource]
    if resource.get("resourceType") == "Bundle":
        return [r for entry in resource.get("entry") or () if isinstance(entry, dict)
                for r in _patients(entry.get("resource"))]
    return []


def from_fhir(data: bytes) -> list[dict]:
    try:
        resource = json.loads(bytes(data).decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    out = []
    for patient in _patients(resource)[:5]:
        names = [n for n in patient.get("name") or () if isinstance(n, dict)]
        official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
        given = " ".join(str(g) for g in official.get("given") or () if g)
        name = " ".join(p for p in (given, str(official.get("family") or "")) if p) or str(official.get("text") or "")
        birth = _date(str(patient.get("birthDate") or ""))
        if name or birth:
            out.append({"name": name.strip(), "birth_date": birth, "source": "fhir"})
    return out


# ---------------------------------------------------------------- comparing


def _tokens(name: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    return [t for t in re.split(r"[^a-z]+", plain) if t and t not in _HONORIFICS]


def names_agree(found: str, given: str, family: str) -> bool:
    """The family name is there (one part of a compound one will do) and the given name's first part or its
    initial; accents, case, punctuation and order do not count."""
    words = _tokens(found)
    if not words:
        return True  # nothing to compare
    family_parts, given_parts = _tokens(family), _tokens(given)
    family_ok = not family_parts or all(p in words for p in family_parts) or (
        len(family_parts) > 1 and any(p in words for p in family_parts))
    if not given_parts:
        return family_ok
    first = given_parts[0]
    given_ok = first in words or any(len(w) == 1 and w == first[0] for w in words)
    return family_ok and given_ok


def compare(found: dict, identity) -> list[str]:
    """The fields of `found` that disagree with the patient identity: "name", "birth_date"."""
    fields = []
    if found.get("name") and not names_agree(found["name"], identity.given_name, identity.family_name):
        fields.append("name")
    if found.get("birth_date") and identity.birth_date and found["birth_date"] != identity.birth_date:
        fields.append("birth_date")
    return fields


# ---------------------------------------------------------------- the check, its flag and its resolution


ZIP_ENTRIES = 3  # DICOM files of an archive (a CD export) whose header is read
ZIP_ENTRY_MAX = 64 * 1024 * 1024


def from_zip(data) -> list[dict]:
    """The identities in the first DICOM files of an archive (already checked for bombs by processing)."""
    import io
    import zipfile

    out: list[dict] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes | bytearray) else data) as archive:
            for info in archive.infolist():
                if len(out) >= ZIP_ENTRIES:
                    break
                if info.is_dir() or info.file_size > ZIP_ENTRY_MAX or info.file_size < 132:
                    continue
                with archive.open(info) as fh:
                    if fh.read(132)[128:132] != b"DICM":
                        continue
                found = from_dicom(archive.read(info))
                out += [f for f in found if f not in out]
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
        return out
    return out


def identities(attachment, kind: str, data: bytes) -> list[dict]:
    if kind == "dicom":
        return from_dicom(data)
    if kind == "zip":
        return from_zip(data)
    if kind == "fhir":
        return from_fhir(data)
    if kind in TEXT_KINDS:
        from konsil.core import files

        from .models import Derivative

        text = ""
        derivative = Derivative.objects.filter(attachment=attachment, kind=Derivative.Kind.TEXT).first()
        if derivative is not None:
            try:
                text = files.get_for(derivative).decode("utf-8", "replace")
            except Exception:  # noqa: BLE001 - no text, no identity to read
                text = ""
        return from_text(text)
    return []


def examine(attachment, kind: str, data: bytes, detail: dict) -> bool:
    """Put the flag in `detail["identity"]` when the record names someone else; True when it does.
    Never raises: a check that cannot run leaves the record as it is."""
    try:
        case = attachment.case
        identity = case.identity or case.patient
        mismatched: list[str] = []
        sources: list[str] = []
        for found in identities(attachment, kind, data):
            fields = compare(found, identity)
            if fields:
                mismatched += [f for f in fields if f not in mismatched]
                sources.append(found["source"])
    except Exception as exc:  # noqa: BLE001 - the check is advisory; processing goes on
        logger.error("identity check of record %s failed (%s)", attachment.pk, type(exc).__name__)
        return False
    if not mismatched:
        return False
    detail["identity"] = {"status": MISMATCH, "fields": sorted(mismatched), "sources": sorted(set(sources))}
    return True


def alert(attachment) -> None:
    """Audit the flag and tell the patient's side and the coordinators (no names in the message)."""
    from konsil.cases import relations as rel
    from konsil.cases.notify import notify

    flag = (attachment.detail or {}).get("identity") or {}
    emit(actor="records", action="record.identity_mismatch", obj=attachment, patient_id=attachment.case.patient_id,
         detail={"fields": flag.get("fields", []), "sources": flag.get("sources", [])})
    notify(attachment.case, "record_identity", rel.PATIENT_SIDE | {rel.COORDINATOR})


def flagged(case):
    """The case's records still flagged as possibly another person's."""
    return [a for a in _CHECKED(case=case.pk, known={"case": case})
            if (a.detail.get("identity") or {}).get("status") == MISMATCH]


def _checked(case):
    from konsil.cases.models import Attachment

    return Attachment.objects.filter(case=case, detail__has_key="identity").order_by("created_at")


_CHECKED = Prepared("cases.Attachment", _checked, case=ID)


def confirm(*, actor, attachment) -> None:
    """A coordinator confirms the record is the patient's (same person, different spelling): the flag is cleared."""
    from django.utils.translation import gettext as _

    from konsil.cases import relations as rel
    from konsil.core.errors import Conflict, PermissionDenied

    case = attachment.case
    role = rel.primary_relation(rel.relations(actor, case))
    if rel.COORDINATOR not in rel.relations(actor, case):
        emit(actor=actor, action="record.identity_confirm", obj=attachment, patient_id=case.patient_id, role=role,
             outcome="denied")
        raise PermissionDenied(_("Only a coordinator can confirm whose record this is."))
    flag = (attachment.detail or {}).get("identity") or {}
    if flag.get("status") != MISMATCH:
        raise Conflict(_("This record is not flagged."), code="not_flagged")
    with transaction.atomic():
        attachment.detail = {**attachment.detail, "identity": {**flag, "status": CONFIRMED,
                                                               "confirmed_at": timezone.now().isoformat()}}
        attachment.save(update_fields=["detail", "updated_at"])
        emit(actor=actor, action="record.identity_confirm", obj=attachment, patient_id=case.patient_id, role=role,
             detail={"fields": flag.get("fields", [])})


def remove(*, actor, attachment) -> None:
    """A coordinator removes a record that belongs to another person: its outputs, stored object and row go; the
    case is triaged again without it."""
    from django.utils.translation import gettext as _

    from konsil.cases import relations as rel
    from konsil.core import files
    from konsil.core.errors import Conflict, PermissionDenied

    from .processing import undo

    case = attachment.case
    role = rel.primary_relation(rel.relations(actor, case))
    if rel.COORDINATOR not in rel.relations(actor, case):
        emit(actor=actor, action="record.identity_remove", obj=attachment, patient_id=case.patient_id, role=role,
             outcome="denied")
        raise PermissionDenied(_("Only a coordinator can remove a record."))
    if ((attachment.detail or {}).get("identity") or {}).get("status") != MISMATCH:
        raise Conflict(_("Only a record flagged as another person's can be removed here."), code="not_flagged")
    undo(attachment)
    names = [attachment.storage_name]
    with transaction.atomic():
        emit(actor=actor, action="record.identity_remove", obj=attachment, patient_id=case.patient_id, role=role,
             detail={"fields": attachment.detail["identity"].get("fields", []), "size": attachment.size})
        attachment.delete()
        if case.status == "submitted":
            from konsil.triage.tasks import enqueue_reconsideration

            enqueue_reconsideration(case.pk)
    for name in names:
        files.delete(name)
