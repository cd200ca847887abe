"""Who sees which analytics: the scope of a user (a network's leaders, or a sponsor's admins), audited reads."""

from __future__ import annotations

import re

from django.apps import apps
from django.utils.translation import gettext as _

from konsil.audit.services import emit
from konsil.core import authz
from konsil.core.errors import NotFound, PermissionDenied, ValidationFailed

from . import measures
from .permissions import LEADER_ROLES, SPONSOR_ROLES


def _slug(value, field: str) -> str:
    value = str(value or "")
    if value and not re.fullmatch(r"[-a-zA-Z0-9_]{1,80}", value):
        raise ValidationFailed(_("Use the organization's address (letters, digits and dashes)."), field=field)
    return value


def scope_for(user, *, network: str = "", sponsor: str = "") -> measures.Scope:
    """The user's analytics scope; `network`/`sponsor` (slugs) pick one when they have several."""
    network, sponsor = _slug(network, "network"), _slug(sponsor, "sponsor")
    if authz.can("analytics.view_network", user) and not sponsor:
        orgs = user.organizations_for(*LEADER_ROLES).filter(kind="provider_network")
        if network:
            orgs = orgs.filter(slug=network)
        orgs = list(orgs)
        if not orgs:
            raise NotFound(_("No such network among yours."), field="network")
        return measures.Scope(kind="network", name=", ".join(o.name for o in orgs),
                              networks=tuple(o.pk for o in orgs))
    if authz.can("analytics.view_sponsor", user):
        orgs = user.organizations_for(*SPONSOR_ROLES)
        if sponsor:
            orgs = orgs.filter(slug=sponsor)
        orgs = list(orgs)
        if not orgs:
            raise NotFound(_("No such program sponsor among yours."), field="sponsor")
        return measures.Scope(kind="sponsor", name=", ".join(o.name for o in orgs),
                              sponsors=tuple(o.pk for o in orgs), suppress=True)
    raise PermissionDenied(_("Analytics are for network leaders and program sponsors."))


def programs_for(scope: measures.Scope) -> list[tuple[str, str]]:
    """(slug, name) of the programs the scope may filter on."""
    if not apps.is_installed("konsil.programs"):
        return []
    from konsil.programs.models import Program

    programs = Program.objects.filter(sponsor__in=scope.sponsors) if scope.sponsors else Program.objects.filter(
        network__in=scope.networks)
    return list(programs.order_by("name").values_list("slug", "name"))


def cached_summary(scope: measures.Scope, filters: measures.Filters) -> dict:
    """The figures only change when the facts are refreshed: cached per scope, filter, day, refresh and language
    (the labels are worded in the reader's language: "Not recorded", specialty names)."""
    import hashlib
    import json

    from django.core.cache import cache
    from django.utils import timezone, translation

    from .rollup import generation

    key = hashlib.sha256(json.dumps([scope.kind, [str(n) for n in scope.networks], [str(s) for s in scope.sponsors],
                                     scope.suppress, filters.as_dict(), generation(),
                                     str(timezone.localdate()), translation.get_language()]).encode()).hexdigest()
    result = cache.get(f"analytics:{key}")
    if result is None:
        result = measures.summary(scope, filters)
        cache.set(f"analytics:{key}", result, 86400)
    return result


def read_summary(user, scope: measures.Scope, filters: measures.Filters, *, view: str) -> dict:
    """The figures, with the read audited (aggregates only: no patient named; the filter in the detail)."""
    result = cached_summary(scope, filters)
    emit(actor=user, action="analytics.read", object_type="analytics.summary", object_id=scope.kind,
         purpose="operations", detail={"view": view, "scope": scope.kind, "filters": filters.as_dict()})
    return result


def resolve(user, params) -> tuple[measures.Scope, measures.Filters]:
    """Scope and filters of a request (query parameters), or a DomainError naming the field at fault."""
    from .inputs import parse

    scope = scope_for(user, network=params.get("network") or "", sponsor=params.get("sponsor") or "")
    return scope, parse(params, programs=programs_for(scope))


def warm() -> int:
    """After a refresh that changed something: compute each network's and each sponsor's opening view (the last
    12 months) so the page answers from the cache. Returns how many were computed."""
    from konsil.accounts.models import Organization

    from .inputs import FilterForm
    from .models import CaseFact

    form = FilterForm({"period": "12m"})
    form.is_valid()
    filters = form.filters()
    count = 0
    network_ids = CaseFact.objects.values_list("network_id", flat=True).distinct()
    for network in Organization.objects.filter(pk__in=network_ids):
        cached_summary(measures.Scope(kind="network", name=network.name, networks=(network.pk,)), filters)
        count += 1
    sponsor_ids = CaseFact.objects.exclude(sponsor=None).values_list("sponsor_id", flat=True).distinct()
    for sponsor in Organization.objects.filter(pk__in=sponsor_ids):
        cached_summary(measures.Scope(kind="sponsor", name=sponsor.name, sponsors=(sponsor.pk,), suppress=True),
                       filters)
        count += 1
    return count
