"""The per-case fact table every measure reads, and the record of each refresh (rollup.py keeps both)."""

from __future__ import annotations

from django.db import models


class CaseFact(models.Model):
    """One submitted case as analytics sees it: dimensions as codes, stage durations in whole minutes, outcomes.

    No names, no free text, no dates of birth: only what the measures count. Rebuilt from the source tables by
    `rollup.refresh()` (the clock runs it), so every figure is exact as of `Refresh.finished_at`.
    """

    case = models.OneToOneField("cases.Case", primary_key=True, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    sponsor = models.ForeignKey("accounts.Organization", null=True, on_delete=models.CASCADE, related_name="+")
    program = models.UUIDField(null=True)  # programs.Program id (the case's enrollment)
    submitted_on = models.DateField()  # in the reporting time zone (settings.TIME_ZONE)
    month = models.DateField()  # first day of submitted_on's month
    specialty = models.CharField(max_length=64, blank=True)  # the case's specialty or subspecialty
    specialty_group = models.CharField(max_length=64, blank=True)  # its top-level specialty
    channel = models.CharField(max_length=16)
    urgency = models.CharField(max_length=10)
    delivery = models.CharField(max_length=12)
    language = models.CharField(max_length=8)
    interpreter = models.BooleanField(default=False)
    state = models.CharField(max_length=2, blank=True)
    county = models.CharField(max_length=5, blank=True)
    rucc = models.SmallIntegerField(null=True)
    status = models.CharField(max_length=20)
    # minutes between stages; null when the later stage was never reached
    tat_triage = models.IntegerField(null=True)  # submitted -> triaged
    tat_offer = models.IntegerField(null=True)  # triaged -> first offer
    tat_accept = models.IntegerField(null=True)  # first offer -> accepted
    tat_deliver = models.IntegerField(null=True)  # accepted -> delivered
    tat_total = models.IntegerField(null=True)  # submitted -> delivered
    breached = models.BooleanField(default=False)  # review deadline missed
    offers_made = models.SmallIntegerField(default=0)
    offers_declined = models.SmallIntegerField(default=0)
    offers_expired = models.SmallIntegerField(default=0)
    triage_agreed = models.BooleanField(null=True)  # coordinator confirmed (True) or overrode (False) triage
    diagnosis_verdict = models.CharField(max_length=12, blank=True)
    treatment_verdict = models.CharField(max_length=12, blank=True)
    plan_changed = models.BooleanField(null=True)
    procedure_avoided = models.BooleanField(null=True)
    cost_difference = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    nps = models.SmallIntegerField(null=True)  # likelihood to recommend, 0..10
    refreshed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["program", "submitted_on"]),
            models.Index(fields=["network", "submitted_on"]),
            models.Index(fields=["network", "specialty_group", "submitted_on"]),
            models.Index(fields=["sponsor", "submitted_on"]),
        ]

    def __str__(self) -> str:
        return f"fact {self.case_id}"


class Refresh(models.Model):
    """One run of the rollup: up to when the facts are exact, and how much it did."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    watermark = models.DateTimeField(null=True)  # source changes up to this instant are in the facts
    full = models.BooleanField(default=False)
    cases = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"refresh {self.started_at:%Y-%m-%d %H:%M}"


class Cell(models.Model):
    """Every breakdown of the facts of one network, period, sponsor and program, pre-aggregated (cube.py).

    `span` is the period's length ("month", "quarter" or "year"; `month` is its first day): quarter and year cells
    are the sums of their month cells. A `pooled` cell sums every sponsor and program of the network (its `sponsor`
    and `program` are null), so the network's unfiltered view reads one cell per period. `slice` says which single
    filter the cell answers: "" (none), "specialty", "channel" or "state", with its `value`; `figures` holds, for
    each breakdown of query.SETS, its rows as [grouping values..., aggregates...]. `first_day`/`last_day` are the
    earliest and latest submission day of the cell's facts, so a period that cuts them is read otherwise.
    """

    network = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    span = models.CharField(max_length=7, default="month")
    month = models.DateField()
    pooled = models.BooleanField(default=False)
    sponsor = models.UUIDField(null=True)
    program = models.UUIDField(null=True)
    slice = models.CharField(max_length=12, blank=True)
    value = models.CharField(max_length=64, blank=True)
    first_day = models.DateField()
    last_day = models.DateField()
    figures = models.JSONField()

    class Meta:
        indexes = [
            models.Index(fields=["network", "slice", "month"]),
            models.Index(fields=["sponsor", "slice", "month"]),
        ]

    def __str__(self) -> str:
        return f"cell {self.span} {self.month:%Y-%m} {self.slice}={self.value}"
