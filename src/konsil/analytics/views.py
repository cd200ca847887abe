"""The analytics page: filters, charts (each with its table), the US map; CSV and PDF from the API."""

from __future__ import annotations

import hashlib
import json

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from konsil.core.errors import DomainError

from . import inputs, selectors
from .labels import STAGE_LABELS, verdict_labels
from .pdf import quarter_bounds


@login_required
def page(request):
    params = request.GET.copy()
    if not any(params.get(name) for name in ("period", "from", "to")):
        params["period"] = "12m"  # the page opens on the last 12 months
    try:
        scope = selectors.scope_for(request.user, network=params.get("network") or "",
                                    sponsor=params.get("sponsor") or "")
    except DomainError as exc:
        return render(request, "analytics/denied.html", {"message": exc.message}, status=exc.status)
    programs = selectors.programs_for(scope)
    form = inputs.FilterForm(_form_data(params), programs=programs)
    context = {"form": form, "scope": scope, "programs": programs}
    if not form.is_valid():
        return render(request, "analytics/page.html", context, status=400)
    filters = form.filters()
    summary = selectors.read_summary(request.user, scope, filters, view="page")
    query = params.urlencode()
    context.update({
        "s": summary, "query": query, "figures_key": figures_key(summary),
        "csv_url": f"{reverse('api:analytics-csv')}?{query}",
        "pdf_url": f"{reverse('api:analytics-report')}?{query}", "quarter": quarter_bounds(None)[0],
        "charts": _charts(summary), "stage_labels": STAGE_LABELS, "verdict_labels": verdict_labels(),
    })
    return render(request, "analytics/page.html", context)


def figures_key(summary: dict) -> str:
    """The page's figures section is rendered once per set of figures, language and time zone (a template fragment
    cache; the template adds the language and the zone to this key):
    the same figures give the same markup."""
    return hashlib.sha256(json.dumps(summary, sort_keys=True, default=str).encode()).hexdigest()


def _form_data(params) -> dict:
    data = {inputs.ALIASES.get(key, key): params.get(key) for key in inputs.NAMES if params.get(key)}
    return data


def _charts(s: dict) -> dict:
    """What the charts draw (the same rows as their tables), for json_script."""
    volume = s["volume"]
    labels = verdict_labels()["diagnosis"]
    return {
        "labels": {"cases": _("Cases"), "demand": _("Cases per 100,000 residents"),
                   "supply": _("Specialists licensed"), "turnaround": _("Median turnaround (hours)"),
                   "median": _("Median (hours)"), "p90": _("90th percentile (hours)"),
                   "reference": _("Published figure"), "suppressed": _("Suppressed")},
        "month": [[m["label"], m["count"]] for m in volume["by_month"]],
        "specialty": [[m["label"], m["count"]] for m in volume["by_specialty"]],
        "channel": [[m["label"], m["count"]] for m in volume["by_channel"]],
        "stages": [[f'{STAGE_LABELS[st["from"]]} → {STAGE_LABELS[st["to"]]}', st["median_hours"], st["p90_hours"]]
                   for st in s["turnaround"]["stages"]],
        "diagnosis": [[str(labels.get(v["verdict"], v["verdict"])), v["rate"], v["ci_low"], v["ci_high"],
                       v["reference"]["rate"] if v.get("reference") else None] for v in s["outcomes"]["diagnosis"]],
        "map": [{"state": r["state"], "name": r["name"], "demand": r["per_100k"], "supply": r["specialists"],
                 "turnaround": r["median_turnaround_hours"]} for r in s["access"]["states"]],
    }
