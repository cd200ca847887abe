"""DICOM attribute matching (PS3.4 C.2.2.2) over the imaging index, shared by QIDO-RS and C-FIND.

Single values, wildcards (* and ?; PN ignores case), date ranges, UID lists and whole-value modality lists. The
patient of a case is its identity version; its Patient ID is the case's reference.
"""

from __future__ import annotations

import datetime as dt
import re

from django.utils.translation import gettext as _

from konsil.core.errors import DomainError

from .models import Instance, Series, Study

_SEP = re.compile(r"[,\\]")
PATIENT_KEYS = frozenset({"PatientID", "PatientName", "PatientBirthDate"})
STUDY_KEYS = PATIENT_KEYS | {"StudyInstanceUID", "StudyDate", "AccessionNumber", "ModalitiesInStudy",
                             "StudyDescription"}
SERIES_KEYS = frozenset({"SeriesInstanceUID", "Modality", "SeriesNumber"})
INSTANCE_KEYS = frozenset({"SOPInstanceUID", "SOPClassUID", "InstanceNumber"})
DATE_KEYS = ("StudyDate", "PatientBirthDate", "SeriesDate")


def pn(identity) -> str:
    return f"{identity.family_name}^{identity.given_name}"


def values(value: str) -> list[str]:
    return [v.strip() for v in _SEP.split(value) if v.strip()]


def wildcard(pattern: str, value: str, *, fold: bool = False) -> bool:
    """Single value matching with the DICOM wildcards * and ? (PS3.4 C.2.2.2.4); PN matching ignores case."""
    if fold:
        pattern, value = pattern.upper(), value.upper()
    if "*" not in pattern and "?" not in pattern:
        return pattern == value
    expression = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(expression, value, flags=re.DOTALL) is not None


def _date(text: str, field: str) -> dt.date:
    try:
        return dt.datetime.strptime(text.replace("-", "").replace(".", ""), "%Y%m%d").date()
    except ValueError:
        raise DomainError(_("Dates are YYYYMMDD, and ranges YYYYMMDD-YYYYMMDD."), field=field) from None


def date_range(value: str, field: str) -> tuple[dt.date | None, dt.date | None]:
    """`20240101`, `20240101-`, `-20241231` or `20240101-20241231` (PS3.4 C.2.2.2.5)."""
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) or "-" not in value:  # one day (ISO, as some clients send)
        day = _date(value, field)
        return day, day
    low, _dash, high = value.partition("-")
    lower, upper = (_date(low, field) if low else None), (_date(high, field) if high else None)
    if lower is None and upper is None:
        raise DomainError(_("Dates are YYYYMMDD, and ranges YYYYMMDD-YYYYMMDD."), field=field)
    return lower, upper


def in_range(day: dt.date | None, bounds) -> bool:
    lower, upper = bounds
    return day is not None and (lower is None or day >= lower) and (upper is None or day <= upper)


class Matcher:
    """The matching keys of one query (keyword -> value as sent); `check()` refuses malformed dates first."""

    def __init__(self, keys: dict[str, str]):
        self.keys = {k: v for k, v in keys.items() if v not in ("", None)}

    def check(self) -> Matcher:
        for key in DATE_KEYS:
            if key in self.keys:
                date_range(self.keys[key], key)
        return self

    def uids(self, key: str) -> set[str] | None:
        return set(values(self.keys[key])) if key in self.keys else None

    def patient(self, case) -> bool:
        keys, identity = self.keys, case.identity
        if "PatientID" in keys and not wildcard(keys["PatientID"], case.reference):
            return False
        if "PatientName" in keys:
            pattern, name = keys["PatientName"], pn(identity)
            if not (wildcard(pattern, name, fold=True) or wildcard(pattern, name.split("^")[0], fold=True)):
                return False
        return not ("PatientBirthDate" in keys and not in_range(
            identity.birth_date, date_range(keys["PatientBirthDate"], "PatientBirthDate")))

    def study(self, study: Study) -> bool:
        keys = self.keys
        uids = self.uids("StudyInstanceUID")
        if uids is not None and study.study_uid not in uids:
            return False
        if "StudyDate" in keys and not in_range(study.study_date, date_range(keys["StudyDate"], "StudyDate")):
            return False
        if "AccessionNumber" in keys and not wildcard(keys["AccessionNumber"], study.accession_number):
            return False
        if "StudyDescription" in keys and not wildcard(keys["StudyDescription"], study.description or "",
                                                        fold=True):
            return False
        if "ModalitiesInStudy" in keys:  # any of the asked modalities among the study's, each matched whole
            held = {m.strip().upper() for m in study.modalities.split(",") if m.strip()}
            if not held & {m.upper() for m in values(keys["ModalitiesInStudy"])}:
                return False
        return True

    def series(self, series: Series) -> bool:
        keys = self.keys
        uids = self.uids("SeriesInstanceUID")
        if uids is not None and series.series_uid not in uids:
            return False
        if "Modality" in keys and series.modality.upper() not in {m.upper() for m in values(keys["Modality"])}:
            return False
        return not ("SeriesNumber" in keys and str(series.number) != keys["SeriesNumber"].strip())

    def instance(self, inst: Instance) -> bool:
        keys = self.keys
        for key, held in (("SOPInstanceUID", inst.sop_uid), ("SOPClassUID", inst.sop_class_uid)):
            uids = self.uids(key)
            if uids is not None and held not in uids:
                return False
        return not ("InstanceNumber" in keys and str(inst.number) != keys["InstanceNumber"].strip())
