"""Patient matching for referrals: the same person referred twice gets one patient record in the network.

Deterministic first: an identifier the sending organization gave the patient before (PatientLink, by keyed hash).
Then demographics: the birth date (blind index) narrows the network's patients, and one candidate must have the
same family and given names (case, accents and spacing ignored) and a compatible sex. Two or more candidates, or
any doubt, make a new record: a wrong merge would show one person's records to another's doctors; a missed one
costs only a duplicate a coordinator can see."""

from __future__ import annotations

import unicodedata

from django.db import IntegrityError, transaction

from konsil.cases.models import Patient

from .models import PatientLink

MAX_CANDIDATES = 50


def _norm(text) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().replace("-", " ")
                    .split())


def _identifiers(resource: dict) -> list[tuple[str, str]]:
    out = []
    for ident in resource.get("identifier") or []:
        value = str(ident.get("value") or "").strip()
        if value and len(value) <= 255:
            out.append((str(ident.get("system") or "")[:255], value))
    return out


def match(*, organization, network, resource: dict, details: dict) -> tuple[Patient | None, str]:
    """(the network's patient this referral is about, how it was matched: "identifier" | "demographics"), or
    (None, "") when no single record matches."""
    for system, value in _identifiers(resource):
        link = (PatientLink.objects.filter(PatientLink.value_index_q(system, value), organization=organization,
                                           patient__network=network)
                .select_related("patient").first())
        if link is not None:
            return link.patient, "identifier"
    birth = details.get("birth_date")
    family, given = _norm(details.get("family_name")), _norm(details.get("given_name"))
    if not birth or not family or not given:
        return None, ""
    candidates = list(Patient.objects.filter(Patient.matching_birth_date(birth), network=network)[:MAX_CANDIDATES])
    sex = details.get("sex") or "unknown"
    same = [p for p in candidates if _norm(p.family_name) == family and _norm(p.given_name) == given
            and (sex == "unknown" or p.sex in (sex, "unknown"))]
    return (same[0], "demographics") if len(same) == 1 else (None, "")


def link(*, organization, patient: Patient, resource: dict) -> None:
    """Remember the sender's identifiers for this patient (an identifier already linked elsewhere stays there)."""
    for system, value in _identifiers(resource):
        try:
            with transaction.atomic():
                PatientLink.objects.create(organization=organization, patient=patient, system=system, value=value)
        except IntegrityError:
            continue
