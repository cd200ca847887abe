"""The summary as CSV: one row per figure (section, breakdown, key, label and the measures that apply)."""

from __future__ import annotations

import csv
import io

HEADER = ["section", "breakdown", "key", "label", "count", "of", "rate", "ci_low", "ci_high", "median_hours",
          "p90_hours", "value", "suppressed"]


def _row(section, breakdown, key, label, item=None, **extra) -> dict:
    item = item or {}
    row = {"section": section, "breakdown": breakdown, "key": key, "label": label}
    for name in HEADER[4:]:
        value = extra.get(name, item.get(name))
        row[name] = "" if value is None else value
    row["suppressed"] = "yes" if item.get("suppressed") or extra.get("suppressed") else ""
    return row


def rows(summary: dict) -> list[dict]:
    out = [_row("volume", "total", "", "", count=summary["volume"]["total"],
                suppressed=summary["volume"].get("total_suppressed"))]
    for breakdown, items in summary["volume"].items():
        if breakdown.startswith("by_"):
            out += [_row("volume", breakdown[3:], item["key"], item["label"], item) for item in items]
    turnaround = summary["turnaround"]
    out += [_row("turnaround", "stage", s["stage"], f'{s["from"]} -> {s["to"]}', s, count=s["n"])
            for s in turnaround["stages"]]
    out.append(_row("turnaround", "sla", "breached", "", turnaround["sla_breaches"]))
    out.append(_row("turnaround", "offers", "made", "", value=turnaround["offers"]["made"]))
    out += [_row("turnaround", "offers", key, "", turnaround["offers"][key]) for key in ("declined", "timed_out")]
    out += [_row("turnaround", "triage", key, "", turnaround["triage"][key]) for key in ("confirmed", "overridden")]
    outcomes = summary["outcomes"]
    for kind in ("diagnosis", "treatment"):
        out += [_row("outcomes", kind, v["verdict"], "", v) for v in outcomes[kind]]
        for spec in outcomes["by_specialty"]:
            out += [_row("outcomes", f"{kind}:{spec['specialty']}", v["verdict"], spec["label"], v)
                    for v in spec[kind]]
    follow = outcomes["follow_up"]
    out += [_row("follow_up", key, "", "", follow[key]) for key in ("plan_changed", "procedure_avoided")]
    out.append(_row("follow_up", "cost_difference", "total", follow["cost_difference"]["currency"],
                    follow["cost_difference"], count=follow["cost_difference"]["n"],
                    value=follow["cost_difference"]["total"]))
    out.append(_row("follow_up", "nps", "score", "", follow["nps"], count=follow["nps"]["n"],
                    value=follow["nps"]["score"]))
    for state in summary["access"]["states"]:
        out.append(_row("access", "state", state["state"], state["name"], state, count=state["cases"],
                        median_hours=state["median_turnaround_hours"], value=state["per_100k"]))
        out.append(_row("access", "supply", state["state"], state["name"], value=state["specialists"]))
    out += [_row("access", f"desert:{d['reason']}", f"{d['state']}:{d['specialty']}", d["label"], d,
                 count=d["cases"], value=d["specialists"]) for d in summary["access"]["deserts"]]
    out.append(_row("access", "rural", "", "", summary["access"]["rural"]))
    out += [_row("access", "rural", r["state"], "", r) for r in summary["access"]["rural"]["by_state"]]
    out += [_row("access", "language", lang["language"], lang["label"], lang, count=lang["requested"],
                 value=lang["specialists"]) for lang in summary["access"]["languages"]]
    return out


def render(summary: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER, lineterminator="\r\n")
    writer.writeheader()
    for row in rows(summary):
        writer.writerow({k: _safe(v) for k, v in row.items()})
    return buffer.getvalue()


def _safe(value):
    """No spreadsheet formulas from labels (CSV injection): a leading =, +, - or @ gets a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _number(value):
        return "'" + value
    return value


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
