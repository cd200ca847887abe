"""Writes to programs: create and edit (every change audited with the names of the fields changed)."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from konsil.accounts.models import Organization
from konsil.accounts.roles import OrganizationKind, Role
from konsil.audit.services import emit
from konsil.cases.choices import LANGUAGE_CHOICES
from konsil.core import authz
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.matching.models import Specialty

from . import inputs
from .models import Eligibility, MandatedProcedure, Pricing, Program, Service

SCALARS = ("name", "welcome", "accent", "eligibility", "pricing", "pmpm_cents", "self_pay_cents", "currency",
           "payer_id", "active")
LISTS = ("languages", "services", "case_rates", "contacts")
MAX_CONTACTS = 10
MAX_MANDATES = 50


def _choice(data, name, choices):
    value = inputs.text(data, name, limit=32)
    if value not in choices:
        raise ValidationFailed(_("Choose one of the options."), field=name)
    return value


def _list(data, name, choices) -> list[str]:
    raw = data.get(name)
    if isinstance(raw, str):
        raw = [v for v in re.split(r"[,\s]+", raw) if v]
    if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
        raise ValidationFailed(_("Give a list."), field=name)
    bad = [v for v in raw if v not in choices]
    if bad:
        raise ValidationFailed(_("Not an option: %(values)s.") % {"values": ", ".join(bad[:5])[:200]}, field=name)
    return sorted(set(raw))


def _rates(data) -> dict:
    raw = data.get("case_rates")
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed(_("Give a rate per service."), field="case_rates")
    out = {}
    for key, value in raw.items():
        if key not in Service.values:
            raise ValidationFailed(_("Not a service: %(value)s.") % {"value": str(key)[:40]}, field="case_rates")
        try:  # cents, like every price of the service (the page converts the dollars typed)
            out[key] = inputs.cents({"rate_cents": value}, "rate_cents")
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, field=f"case_rates.{key}") from None
    return out


def _contacts(data) -> list[dict]:
    raw = data.get("contacts") or []
    if not isinstance(raw, list) or len(raw) > MAX_CONTACTS:
        raise ValidationFailed(_("Give at most %(n)d contacts.") % {"n": MAX_CONTACTS}, field="contacts")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationFailed(_("Each contact has a name and an email."), field="contacts")
        try:
            contact = {k: inputs.text(item, k, required=k in ("name", "email"), limit=200)
                       for k in ("name", "email", "phone", "role")}
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, field="contacts") from None
        if "@" not in contact["email"]:
            raise ValidationFailed(_("Enter a valid email address."), field="contacts")
        out.append(contact)
    return out


def _accent(data) -> str:
    value = inputs.text(data, "accent", required=False, limit=7)
    if value and not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValidationFailed(_("A colour like #1d4ed8."), field="accent")
    return value.lower()


def _bool(data, name) -> bool:
    value = data.get(name)
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "on", "yes", "false", "0", "off", "no", ""):
        return str(value).lower() in ("true", "1", "on", "yes")
    raise ValidationFailed(_("Answer yes or no."), field=name)


def _checks(data: dict) -> dict:
    """Validators of the fields present in `data`."""
    available = {
        "name": lambda: inputs.text(data, "name"),
        "welcome": lambda: inputs.text(data, "welcome", required=False, limit=2000),
        "accent": lambda: _accent(data),
        "eligibility": lambda: _choice(data, "eligibility", Eligibility.values),
        "pricing": lambda: _choice(data, "pricing", Pricing.values),
        "pmpm_cents": lambda: inputs.cents(data, "pmpm_cents", limit=10_000_00),
        "self_pay_cents": lambda: inputs.cents(data, "self_pay_cents", limit=1_000_000_00),
        "currency": lambda: _choice(data, "currency", ("USD", "EUR", "GBP", "JPY", "MXN", "CAD")),
        "payer_id": lambda: inputs.text(data, "payer_id", required=False, limit=80),
        "active": lambda: _bool(data, "active"),
        "languages": lambda: _list(data, "languages", dict(LANGUAGE_CHOICES)),
        "services": lambda: _list(data, "services", Service.values),
        "case_rates": lambda: _rates(data),
        "contacts": lambda: _contacts(data),
        "specialties": lambda: _list(data, "specialties", set(Specialty.objects.values_list("code", flat=True))),
        "mandated_procedures": lambda: _mandates(data),
    }
    return {k: v for k, v in available.items() if k in data}


def _mandates(data) -> list[dict]:
    raw = data.get("mandated_procedures") or []
    if not isinstance(raw, list) or len(raw) > MAX_MANDATES:
        raise ValidationFailed(_("Give at most %(n)d procedures.") % {"n": MAX_MANDATES},
                               field="mandated_procedures")
    out, seen = [], set()
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationFailed(_("Each procedure has a CPT code and words."), field="mandated_procedures")
        try:
            row = {"cpt": inputs.cpt(item, "cpt"), "description": inputs.text(item, "description"),
                   "decision_days": _days(item)}
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, field="mandated_procedures") from None
        if row["cpt"] in seen:
            raise ValidationFailed(_("CPT %(cpt)s is listed twice.") % {"cpt": row["cpt"]},
                                   field="mandated_procedures")
        seen.add(row["cpt"])
        out.append(row)
    return out


def _days(item) -> int:
    raw = item.get("decision_days", 14)
    try:
        value = int(raw) if not isinstance(raw, bool) and isinstance(raw, int | str) else None
    except ValueError:
        value = None
    if value is None or not 1 <= value <= 90:
        raise ValidationFailed(_("The decision deadline is 1 to 90 days."), field="decision_days")
    return value


def _org(value, field: str, kinds) -> Organization:
    org = Organization.objects.filter(slug=str(value or "")[:80], kind__in=kinds, active=True).first()
    if org is None:
        raise ValidationFailed(_("No such organization."), field=field)
    return org


def create_program(*, actor, data) -> Program:
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the program's details."), field="name")
    clean = inputs.collect({
        "sponsor": lambda: _org(data.get("sponsor"), "sponsor", (OrganizationKind.PAYER, OrganizationKind.EMPLOYER)),
        "network": lambda: _org(data.get("network"), "network", (OrganizationKind.PROVIDER_NETWORK,)),
        "slug": lambda: slugify(inputs.text(data, "slug", required=False, limit=80) or str(data.get("name") or ""))
        [:80],
        **_checks({"name": "", **data}),
    })
    sponsor, network = clean.pop("sponsor"), clean.pop("network")
    if not (actor.memberships.filter(organization=network, role=Role.ORG_ADMIN, active=True).exists()
            or actor.memberships.filter(organization=sponsor, role__in=(Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN),
                                        active=True).exists()):
        raise PermissionDenied(_("Only the sponsor's or the network's admins create its programs."))
    if not clean["slug"]:
        raise ValidationFailed(_("This field is required."), field="slug")
    try:
        with transaction.atomic():
            program = Program(sponsor=sponsor, network=network, slug=clean.pop("slug"))
            program = _write(actor, program, clean, created=True)
    except IntegrityError:
        raise Conflict(_("This address is taken; choose another."), code="slug_taken") from None
    return program


PRICE_TERMS = ("pricing", "case_rates", "pmpm_cents", "self_pay_cents", "currency")


def update_program(*, actor, program: Program, data) -> Program:
    authz.require("programs.edit", actor, program)
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the program's details."), field="name")
    clean = inputs.collect(_checks(data))
    repriced = [key for key in PRICE_TERMS if key in clean and clean[key] != getattr(program, key)]
    if repriced and not authz.can("programs.price", actor, program):
        emit(actor=actor, action="program.update", obj=program, outcome="denied", detail={"fields": repriced})
        raise PermissionDenied(_("The network's admins set the price terms; the sponsor reads them."),
                               field=repriced[0], code="price_terms")
    with transaction.atomic():
        return _write(actor, Program.objects.select_for_update().get(pk=program.pk), clean, created=False)


def _write(actor, program: Program, clean: dict, *, created: bool) -> Program:
    specialties = clean.pop("specialties", None)
    mandates = clean.pop("mandated_procedures", None)
    changed = sorted(k for k, v in clean.items() if created or getattr(program, k) != v)
    for key, value in clean.items():
        setattr(program, key, value)
    program.save()
    if specialties is not None and set(program.specialties.values_list("code", flat=True)) != set(specialties):
        program.specialties.set(specialties)
        changed.append("specialties")
    if mandates is not None:
        current = sorted((m.cpt, m.description, m.decision_days) for m in program.mandated_procedures.all())
        wanted = sorted((m["cpt"], m["description"], m["decision_days"]) for m in mandates)
        if current != wanted:
            program.mandated_procedures.all().delete()
            MandatedProcedure.objects.bulk_create([MandatedProcedure(program=program, **m) for m in mandates])
            changed.append("mandated_procedures")
    if changed or created:
        emit(actor=actor, action="program.create" if created else "program.update", obj=program,
             detail={"fields": changed})
    return program


def regenerate_code(*, actor, program: Program) -> Program:
    from .models import new_enrolment_code

    authz.require("programs.edit", actor, program)
    with transaction.atomic():
        program.enrolment_code = new_enrolment_code()
        program.save(update_fields=["enrolment_code", "updated_at"])
        emit(actor=actor, action="program.update", obj=program, detail={"fields": ["enrolment_code"]})
    return program


# --- the network's billing profile (the billing provider of its 837P claims) -----------------------------------

PROFILE_FIELDS = ("npi", "tax_id", "address", "city", "state", "postal_code", "phone", "submitter_id")


def _digits(data, name: str, sizes: tuple[int, ...], message) -> str:
    value = re.sub(r"[\s()+.-]", "", inputs.text(data, name, limit=20))
    if not value.isdigit() or len(value) not in sizes:
        raise ValidationFailed(message, field=name)
    return value


def _state(data) -> str:
    from konsil.cases.choices import STATE_CHOICES

    value = inputs.text(data, "state", limit=2).upper()
    if value not in dict(STATE_CHOICES):
        raise ValidationFailed(_("Choose a US state."), field="state")
    return value


def may_edit_billing_profile(actor, network) -> bool:
    return actor.memberships.filter(organization=network, role=Role.ORG_ADMIN, active=True).exists()


def save_billing_profile(*, actor, network: Organization, data):
    """Create or change the network's billing profile (its admins only); every field checked, nothing half-saved,
    audited with the names of the fields changed."""
    from .models import BillingProfile

    if network.kind != OrganizationKind.PROVIDER_NETWORK or not may_edit_billing_profile(actor, network):
        raise PermissionDenied(_("Only the network's admins edit its billing profile."))
    if not isinstance(data, dict):
        raise ValidationFailed(_("Give the billing details."), field="npi")
    clean = inputs.collect({
        "npi": lambda: inputs.npi(data, "npi"),
        "tax_id": lambda: _digits(data, "tax_id", (9,), _("A tax id (EIN) has nine digits, like 12-3456789.")),
        "address": lambda: inputs.text(data, "address", limit=110),
        "city": lambda: inputs.text(data, "city", limit=60),
        "state": lambda: _state(data),
        "postal_code": lambda: _digits(data, "postal_code", (5, 9), _("A ZIP code has five or nine digits.")),
        "phone": lambda: _digits(data, "phone", (10,), _("A phone number has ten digits, like 415 555 0100.")),
        "submitter_id": lambda: inputs.text(data, "submitter_id", limit=40),
    })
    with transaction.atomic():
        profile = BillingProfile.objects.select_for_update().filter(network=network).first()
        created = profile is None
        profile = profile or BillingProfile(network=network)
        changed = sorted(k for k, v in clean.items() if created or getattr(profile, k) != v)
        for key, value in clean.items():
            setattr(profile, key, value)
        profile.save()
        if changed:
            emit(actor=actor, action="program.billing_profile", obj=profile,
                 detail={"fields": changed, "created": created})
    return profile
