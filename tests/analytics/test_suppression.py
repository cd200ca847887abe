"""Small-cell suppression: a count hidden only so that a small one cannot be worked out from the total is marked
as such and read as "hidden", never as "fewer than 11" (it is 11 or more)."""

from __future__ import annotations

from django.template.loader import render_to_string

from konsil.analytics.suppression import suppress_summary


def test_the_complement_cell_is_hidden_and_labelled_as_such():
    summary = suppress_summary({"volume": {"total": 56, "by_urgency": [
        {"key": "routine", "label": "Routine", "count": 45},
        {"key": "urgent", "label": "Urgent", "count": 7},
        {"key": "stat", "label": "STAT", "count": 4},
    ]}})
    rows = summary["volume"]["by_urgency"]
    assert [r["count"] for r in rows] == [45, None, None]  # two small cells: nothing else needs hiding
    summary = suppress_summary({"volume": {"total": 56, "by_urgency": [
        {"key": "routine", "label": "Routine", "count": 33},
        {"key": "urgent", "label": "Urgent", "count": 19},
        {"key": "stat", "label": "STAT", "count": 4},
    ]}})
    rows = summary["volume"]["by_urgency"]
    assert [r["count"] for r in rows] == [33, None, None]
    assert rows[1]["complement"] is True and "complement" not in rows[2]
    html = render_to_string("analytics/_breakdown.html", {"rows": rows, "caption": "Urgency", "head": "Urgency"})
    assert html.count("fewer than 11") == 1 and "hidden (it would reveal a smaller count)" in html
