"""How a user relates to a case: the case roles that permissions and the lifecycle table name."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import connections, models, router
from django.db.models import Exists, Q
from django.utils import timezone

from konsil.accounts.roles import Role
from konsil.core import context

from .choices import Status

# Case roles (relations), distinct from membership roles.
PATIENT = "patient"
CAREGIVER = "caregiver"
REQUESTER = "requester"
COORDINATOR = "coordinator"
SPECIALIST = "specialist"  # the assigned specialist
OFFERED = "offered_specialist"  # a specialist with a pending offer
SIGNER = "signer"  # a specialist who signed an opinion on the case (keeps read access)
SPONSOR_ADMIN = "sponsor_admin"  # payer/employer admin of the sponsoring program: status only
SYSTEM = "system"  # an automatic process (matching, SLA clock) acting as itself, never a user
PANEL_MEMBER = "panel_member"  # a seat on the case's convened multidisciplinary panel: reads the record
EMERGENCY = "emergency_access"  # a break-glass grant in force (cases.emergency): reads the case, writes nothing

CLINICAL_RELATIONS = frozenset({PATIENT, CAREGIVER, REQUESTER, COORDINATOR, SPECIALIST, OFFERED, SIGNER,
                                PANEL_MEMBER})
PATIENT_SIDE = frozenset({PATIENT, CAREGIVER, REQUESTER})


def active_caregiver_q(user, prefix: str = "", *, today=None) -> Q:
    today = today or timezone.localdate()
    return Q(**{
        f"{prefix}caregiver_authorizations__caregiver": user,
        f"{prefix}caregiver_authorizations__revoked_at__isnull": True,
    }) & (
        Q(**{f"{prefix}caregiver_authorizations__expires_on__isnull": True})
        | Q(**{f"{prefix}caregiver_authorizations__expires_on__gte": today})
    )


def relations(user, case) -> set[str]:
    """Every relation `user` has to `case` (empty when none), read in one query, once per read request
    (core.context.memo: kept while nothing is written)."""
    if user is None or not user.is_authenticated:
        return set()
    found: set[str] = set()
    if case.patient.user_id == user.pk:
        found.add(PATIENT)
    if case.requester_id == user.pk and PATIENT not in found:
        found.add(REQUESTER)
    kept = context.memo()
    key = ("relations", user.pk, case.pk, case.patient_id, case.network_id, _sponsor(case),
           case.assigned_specialist_id)
    if kept is not None and key in kept:
        return found | kept[key]
    names, row = _asked(user.pk, case)
    queried = frozenset(name for name, present in zip(names, row, strict=True) if present)
    if kept is not None:
        kept[key] = queried
    return found | queried


def _query(*, user, case, patient, network, sponsor, today, now):
    """The relations not known from the case row, as one row of EXISTS (names, queryset)."""
    from konsil.accounts.models import Membership

    from .models import Case, Patient

    def of_case(name: str):
        return Case._meta.get_field(name).related_model.objects.filter(case_id=case)

    memberships = Membership.objects.filter(user_id=user, active=True)
    checks = {
        CAREGIVER: Patient.objects.filter(pk=patient).filter(active_caregiver_q(user, today=today)),
        COORDINATOR: memberships.filter(organization_id=network, role=Role.COORDINATOR),
        SPECIALIST: Case.objects.filter(pk=case, assigned_specialist__user=user),
        OFFERED: of_case("offers").filter(specialist__user=user, status="pending"),
        SIGNER: of_case("opinions").filter(author__user=user, signed_at__isnull=False),
        PANEL_MEMBER: of_case("panels").filter(status="convened", members__specialist__user=user),
        EMERGENCY: of_case("emergency_grants").filter(user=user, expires_at__gt=now),
    }
    if sponsor:
        checks[SPONSOR_ADMIN] = memberships.filter(organization_id=sponsor,
                                                   role__in=[Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN])
    names = list(checks)
    return names, Case.objects.filter(pk=case).values_list(*[Exists(checks[name].values("pk")) for name in names])


# The query's SQL, compiled by the ORM once per database and shape (with or without a sponsor) from stand-in
# values; each request fills in its own. Building and compiling eight EXISTS cost more than running them.
_COMPILED: dict[tuple[str, bool], tuple[str, list, list[str]] | None] = {}


def _prepared(alias: str, values: dict) -> dict:
    """The values as the database receives them (as the ORM prepares them for these lookups)."""
    connection = connections[alias]
    uuid_field = models.UUIDField()
    out = {name: uuid_field.get_db_prep_value(values[name], connection)
           for name in ("user", "case", "patient", "network", "sponsor") if values[name] is not None}
    out["today"] = models.DateField().get_db_prep_value(values["today"], connection)
    out["now"] = models.DateTimeField().get_db_prep_value(values["now"], connection)
    return out


def _compile(alias: str, sponsored: bool) -> tuple[str, list, list[str]] | None:
    """(sql, [(value name or None, constant)], names), or None when the stand-ins cannot all be found in the params.

    Compiled twice from two sets of stand-ins: the SQL and the place of every value must agree, so a value the
    mapping missed cannot stay behind as a constant. The stand-in dates lie in the far future: a date that did
    stay behind would deny (an expired grant looks live only with a date in the past)."""
    compiled = []
    for n in (1, 2):
        stand_in = {"user": uuid.uuid4(), "case": uuid.uuid4(), "patient": uuid.uuid4(), "network": uuid.uuid4(),
                    "sponsor": uuid.uuid4() if sponsored else None, "today": dt.date(9990 + n, 2, 3),
                    "now": dt.datetime(9990 + n, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)}
        names, qs = _query(**stand_in)
        sql, params = qs[:1].query.get_compiler(alias).as_sql()
        prepared = _prepared(alias, stand_in)
        slots = []
        for param in params:
            name = next((k for k, v in prepared.items() if type(v) is type(param) and v == param), None)
            slots.append((name, param))
        if set(prepared) - {name for name, _param in slots}:
            return None
        compiled.append((sql, slots, names))
    (sql, slots, names), (sql2, slots2, names2) = compiled
    same = sql == sql2 and names == names2 and [(k, None if k else v) for k, v in slots] == [
        (k, None if k else v) for k, v in slots2]
    return (sql, slots, names) if same else None


def _sponsor(case):
    """The sponsor whose admins may follow the case's status: none while it is a draft (the patient's own until
    submitted, as cases.selectors.sponsored_cases counts it)."""
    return None if case.status == Status.DRAFT else case.sponsor_id


def _asked(user_pk, case) -> tuple[list[str], tuple]:
    """(names, row of booleans) for `user_pk` and `case`: the compiled SQL, or the ORM when it cannot be."""
    from .models import Case

    values = {"user": user_pk, "case": case.pk, "patient": case.patient_id, "network": case.network_id,
              "sponsor": _sponsor(case), "today": timezone.localdate(), "now": timezone.now()}
    alias = case._state.db or router.db_for_read(Case, instance=case)
    shape = (alias, bool(values["sponsor"]))
    if shape not in _COMPILED:
        _COMPILED[shape] = _compile(*shape)
    compiled = _COMPILED[shape]
    if compiled is None:
        names, qs = _query(**values)
        return names, qs.first() or (False,) * len(names)
    sql, slots, names = compiled
    prepared = _prepared(alias, values)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [prepared[name] if name else param for name, param in slots])
        row = cursor.fetchone()
    return names, tuple(bool(v) for v in row) if row else (False,) * len(names)


def primary_relation(rels: set[str]) -> str:
    """The relation recorded in the audit trail when a user has several."""
    for name in (SPECIALIST, OFFERED, COORDINATOR, PATIENT, CAREGIVER, REQUESTER, SIGNER, PANEL_MEMBER,
                 EMERGENCY, SPONSOR_ADMIN, SYSTEM):
        if name in rels:
            return name
    return ""
