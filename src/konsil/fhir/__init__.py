"""FHIR R4 API (/fhir/R4/), SMART Backend Services tokens, referrals in and opinions out."""
