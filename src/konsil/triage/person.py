"""Who a triage case is about: the case's patient identity version, as the case was submitted (no models
imported, so the engine and the benchmarks load without Django's apps)."""

from __future__ import annotations


def case_person(case):
    """Who the case is about as it was submitted: the case's patient identity version (name, birth date, sex,
    language); the patient row only for a case that has no version yet."""
    return getattr(case, "identity", None) or case.patient


def case_language(case) -> str:
    """The language of the case's patient identity version (en, es or ja; en otherwise)."""
    language = getattr(case_person(case), "language", "") or "en"
    return language if language in ("en", "es", "ja") else "en"
