"""Patient identity as a versioned record (issue #10, finding 2).

A case points at the version of the patient's identity it was submitted with. A version used by a submitted case
never changes: a new case with other details, or an edit of a draft's patient block while another case uses the
version, creates the next version; the Patient row shared by other cases is left as it is. Every change is audited
(field names, never values) and shown on the case page. Callers hold the transaction.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Max

from konsil.audit.services import emit
from konsil.core.prepared import ID, Prepared

from .models import IDENTITY_FIELDS, Case, Patient, PatientIdentity


def _changed(identity: PatientIdentity, values: dict) -> list[str]:
    return [name for name in IDENTITY_FIELDS if name in values and getattr(identity, name) != values[name]]


def _next_version(*, actor, patient: Patient, base: PatientIdentity, values: dict,
                  changed: list[str]) -> PatientIdentity:
    Patient.objects.select_for_update().filter(pk=patient.pk).first()  # one writer numbers the versions
    number = (patient.identities.aggregate(n=Max("version"))["n"] or 0) + 1
    identity = PatientIdentity.objects.create(
        patient=patient, version=number, supersedes=base, changed_fields=changed,
        created_by=actor if getattr(actor, "pk", None) else None, **{**base.values(), **values})
    emit(actor=actor, action="patient.identity_version", obj=identity, patient_id=patient.pk,
         detail={"version": number, "supersedes": base.version, "fields": changed})
    return identity


def _mirror(patient: Patient, values: dict, *, except_case: Case | None = None) -> None:
    """Keep the Patient row's details current, unless another case uses the row."""
    others = patient.cases.all()
    if except_case is not None:
        others = others.exclude(pk=except_case.pk)
    if others.exists():
        return
    for name, value in values.items():
        setattr(patient, name, value)
    patient.save()


def for_new_case(*, actor, patient: Patient, values: dict | None) -> PatientIdentity:
    """The identity version a new case of `patient` starts with: the current one, or the next when `values`
    (the details given with the new case) differ from it."""
    current = patient.current_identity()
    changed = _changed(current, values or {})
    if not changed:
        return current
    _mirror(patient, {k: values[k] for k in changed})
    return _next_version(actor=actor, patient=patient, base=current, values=values, changed=changed)


def update_for_case(*, actor, case: Case, values: dict) -> PatientIdentity:
    """Change the patient's details of a draft `case`: in place while only this draft uses its version,
    as a new version otherwise. Returns the case's identity (the case is saved by the caller)."""
    identity = case.identity or case.patient.current_identity()
    changed = _changed(identity, values)
    if not changed:
        return identity
    shared = identity.locked or identity.cases.exclude(pk=case.pk).exists()
    _mirror(case.patient, {k: values[k] for k in changed}, except_case=case)
    if shared:
        identity = _next_version(actor=actor, patient=case.patient, base=identity, values=values, changed=changed)
    else:
        for name in changed:
            setattr(identity, name, values[name])
        identity.changed_fields = sorted(set(identity.changed_fields or []) | set(changed))
        identity.save()
        emit(actor=actor, action="patient.identity_update", obj=identity, patient_id=case.patient_id,
             detail={"version": identity.version, "fields": changed})
    case.identity = identity
    return identity


def history(case: Case) -> list[PatientIdentity]:
    """The versions of the case's patient up to the case's own, newest first, for the case page."""
    if case.identity_id is None:
        return []
    return _HISTORY(patient=case.patient_id, version=case.identity.version, known={"patient": case.patient})


_HISTORY = Prepared(PatientIdentity, lambda patient, version: PatientIdentity.objects.filter(
    patient=patient, version__lte=version).select_related("created_by").order_by("-version"),
    patient=ID, version=models.IntegerField())
