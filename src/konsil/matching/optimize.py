"""Assignment: vectorized feasibility and scores, single-case ranking, exact batch assignment, greedy baseline.

The batch assignment is exact: it maximizes the number of assigned cases first, then the total score, subject to
every hard constraint and each specialist's free capacity. Feasible (case, specialist) pairs become edges of a
bipartite graph; each specialist is expanded into as many slots as they can use (min(free capacity, degree)),
each case gets a private "unassigned" slot, and scipy's sparse min-weight full bipartite matching (LAPJVsp) solves
each connected component. Costs are 2 - score for real slots and size + 3 for the private slot, so one more
assigned case always outweighs any loss of score (scores lie in [0, 1]).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from konsil.core.deadlines import review_hours

from . import licensure, scoring
from .scoring import DEFAULT_WEIGHTS, MAX_TZ_GAP, Weights

EMPTY = np.empty(0, dtype=np.int64)
URGENCY_ORDER = {"stat": 0, "urgent": 1, "routine": 2}
BLOCKERS = {  # how many specialists a hard constraint removed; "n" picks the plural form
    "available": ngettext_lazy("%(n)d has no free case slots or is not accepting cases",
                               "%(n)d have no free case slots or are not accepting cases", "n"),
    "subspecialty": ngettext_lazy("%(n)d lacks the required subspecialty",
                                  "%(n)d lack the required subspecialty", "n"),
    "licence": ngettext_lazy("%(n)d is not eligible where the patient is: %(rule)s",
                             "%(n)d are not eligible where the patient is: %(rule)s", "n"),
    "language": ngettext_lazy("%(n)d does not speak the patient's language",
                              "%(n)d do not speak the patient's language", "n"),
    "delivery": ngettext_lazy("%(n)d does not offer the requested delivery mode",
                              "%(n)d do not offer the requested delivery mode", "n"),
    "conflict": ngettext_lazy("%(n)d has a conflict of interest or declined the case",
                              "%(n)d have a conflict of interest or declined the case", "n"),
}


def _positions(values: list[int]) -> np.ndarray:
    return np.array(sorted(set(values)), dtype=np.int64)


def _members(sorted_values: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Mask of `sorted_values` (ascending, unique) found among a few `probes` (faster than np.isin here)."""
    out = np.zeros(sorted_values.size, dtype=bool)
    if probes.size and sorted_values.size:
        at = np.searchsorted(sorted_values, probes)
        hit = at < sorted_values.size
        hit[hit] = sorted_values[at[hit]] == probes[hit]
        out[at[hit]] = True
    return out


class SpecialistIndex:
    """Parsed specialists pre-indexed by specialty, licence, language, delivery mode and institution."""

    def __init__(self, specialists: list[dict], weights: Weights = DEFAULT_WEIGHTS, table=None):
        self.specialists = list(specialists)
        self.weights = weights
        self.table = table or licensure.load()
        sp, n, w = self.specialists, len(self.specialists), weights
        self.ids = [s["id"] for s in sp]
        self.position = {sid: i for i, sid in enumerate(self.ids)}
        cap = np.array([s["capacity"] for s in sp], dtype=np.int64)
        self.free = np.array([scoring.free_slots(s) for s in sp], dtype=np.int64)
        self.available = np.array([s["accepting"] for s in sp], dtype=bool) & (self.free > 0)
        groups: dict[str, defaultdict] = {k: defaultdict(list) for k in
                                          ("practised", "exact", "states", "countries", "languages", "delivery",
                                           "institutions")}
        for i, s in enumerate(sp):
            for code in scoring.practised(s):
                groups["practised"][code].append(i)
            for code in {*s["specialties"], *s["subspecialties"]}:
                groups["exact"][code].append(i)
            for key, values in (("states", s["licensed_states"]), ("countries", s["licensed_countries"]),
                                ("languages", s["languages"]), ("delivery", s["delivery_modes"]),
                                ("institutions", [s["institution"], *s["affiliations"]])):
                for v in values:
                    if v:
                        groups[key][v].append(i)
        self.practising = {k: _positions(v) for k, v in groups["practised"].items()}
        self.by_specialty = {k: v[self.available[v]] for k, v in self.practising.items()}
        self.institutions = {k: _positions(v) for k, v in groups["institutions"].items()}
        self.masks = {key: {k: self._mask(v, n) for k, v in groups[key].items()}
                      for key in ("exact", "states", "countries", "languages", "delivery")}
        turnaround = np.array([s["turnaround_hours"] for s in sp], dtype=float)
        self.wv_deadline = {u: w.deadline * (d / (d + np.maximum(0.0, turnaround)))  # scoring.deadline_value
                            for u, d in review_hours().items()}
        load = np.divide(self.free, cap, out=np.zeros(n), where=cap > 0)
        self.wv_load = w.load * load
        quality = np.array([scoring.DEFAULT_QUALITY if s["quality"] is None else s["quality"] for s in sp],
                           dtype=float)
        self.wv_quality = w.quality * quality
        self.tz = np.array([np.nan if s["utc_offset"] is None else s["utc_offset"] for s in sp], dtype=float)
        fee = np.array([np.nan if s["fee"] is None else s["fee"] for s in sp], dtype=float)
        self.has_fee = ~np.isnan(fee)
        self.wv_cost = np.where(self.has_fee, w.cost * np.maximum(0.0, 1.0 - fee / w.fee_ceiling), 0.0)
        self._allows: dict[tuple, bool] = {}

    @staticmethod
    def _mask(values: list[int], n: int) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        m[values] = True
        return m

    def __len__(self) -> int:
        return len(self.specialists)

    def allows_without_licence(self, case: dict) -> bool:
        key = (case["state"], case["channel"], case["country"])
        if key not in self._allows:
            self._allows[key] = licensure.allows_without_licence(case["state"], case["channel"],
                                                                 country=case["country"], table=self.table)
        return self._allows[key]

    def _licence_mask(self, case: dict):
        if case["country"] == licensure.US:
            return self.masks["states"].get(case["state"])
        return self.masks["countries"].get(case["country"])

    def excluded(self, case: dict) -> np.ndarray:
        """Positions barred by conflicts of interest or an earlier decline."""
        ids = [*case["declined_by"], case["referring_physician"], case["first_opinion_physician"]]
        out = [self.position[x] for x in ids if x in self.position]
        for place in case["institution_excluded"]:
            out.extend(self.institutions.get(place, EMPTY).tolist())
        return np.array(out, dtype=np.int64) if out else EMPTY

    def feasible(self, case: dict) -> np.ndarray:
        """Positions (ascending) of the specialists meeting every hard constraint for `case`."""
        cand = self.by_specialty.get(case["specialty"], EMPTY)
        for _kind, mask in self._constraint_masks(case):
            if cand.size == 0:
                break
            cand = EMPTY if mask is None else cand[mask[cand]]
        excluded = self.excluded(case)
        if cand.size and excluded.size:
            cand = cand[~_members(cand, excluded)]
        return cand

    def _constraint_masks(self, case: dict):
        """(kind, mask) in check order (mask None = nobody passes); skipped where the constraint does not apply."""
        if case["subspecialty"] and case["subspecialty_required"]:
            yield "subspecialty", self.masks["exact"].get(case["subspecialty"])
        if not self.allows_without_licence(case):
            yield "licence", self._licence_mask(case)
        if not case["interpreter"]:
            yield "language", self.masks["languages"].get(case["language"])
        if case["delivery"]:
            yield "delivery", self.masks["delivery"].get(case["delivery"])

    def scores(self, case: dict, cand: np.ndarray) -> np.ndarray:
        """Soft scores of `cand`, bit-for-bit the same arithmetic as scoring.score."""
        w = self.weights
        num, den = np.zeros(cand.size), 0.0
        if case["subspecialty"]:
            mask = self.masks["exact"].get(case["subspecialty"])
            has = mask[cand].astype(float) if mask is not None else np.zeros(cand.size)
            num += w.subspecialty * has
            den += w.subspecialty
        num += self.wv_deadline[case["urgency"]][cand]
        den += w.deadline
        num += self.wv_load[cand]
        den += w.load
        num += self.wv_quality[cand]
        den += w.quality
        if case["previous_specialists"]:
            seen = _members(cand, np.array([self.position[x] for x in case["previous_specialists"]
                                            if x in self.position], dtype=np.int64))
            num += w.continuity * seen.astype(float)
            den += w.continuity
        if case["utc_offset"] is not None:
            tz = self.tz[cand]
            known = ~np.isnan(tz)
            value = 1.0 - np.minimum(np.abs(case["utc_offset"] - tz), MAX_TZ_GAP) / MAX_TZ_GAP
            num += np.where(known, w.timezone * value, 0.0)
            den = den + np.where(known, w.timezone, 0.0)
        fee = self.has_fee[cand]
        if fee.any():
            num += self.wv_cost[cand]
            den = den + np.where(fee, w.cost, 0.0)
        return np.divide(num, den, out=np.zeros(cand.size), where=np.asarray(den) > 0)

    def candidates(self, case: dict) -> tuple[np.ndarray, np.ndarray]:
        cand = self.feasible(case)
        return cand, self.scores(case, cand)

    def blockers(self, case: dict) -> list[str]:
        """Why no specialist is feasible: how many the first failing constraint removes, step by step."""
        names = scoring.specialty_catalog().names
        label = {"specialty": names.get(case["specialty"], case["specialty"])}
        cand = self.practising.get(case["specialty"], EMPTY)
        if cand.size == 0:
            return [_("no specialist practises %(specialty)s") % label]
        out = [ngettext("%(n)d specialist practises %(specialty)s", "%(n)d specialists practise %(specialty)s",
                        cand.size) % {**label, "n": cand.size}]
        rule = licensure.eligibility(case["state"], case["channel"], [], False, country=case["country"],
                                     table=self.table).rule
        for kind, mask in [("available", self.available), *self._constraint_masks(case)]:
            keep = np.zeros(cand.size, dtype=bool) if mask is None else mask[cand]
            dropped = int((~keep).sum())
            if dropped:
                out.append(BLOCKERS[kind] % {"n": dropped, "rule": rule})
            cand = cand[keep]
        if cand.size:
            out.append(BLOCKERS["conflict"] % {"n": int(cand.size)})
        return out


def index_for(specialists, weights: Weights | None = None) -> SpecialistIndex:
    if isinstance(specialists, SpecialistIndex):
        return specialists
    return SpecialistIndex(specialists, weights or DEFAULT_WEIGHTS)


# --- single case -------------------------------------------------------------------------------------------------

@dataclass
class Ranked:
    specialist_id: str
    score: float
    factors: list[dict] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def rank(case: dict, specialists, top: int = 10, *, weights: Weights | None = None) -> list[Ranked]:
    """The `top` feasible specialists for one case, best first (ties: input order), each with its explanation.

    `specialists` is a SpecialistIndex (build it once, reuse it: that is what keeps this fast) or a list of parsed
    specialist dicts; `weights` only applies when a list is given.
    """
    index = index_for(specialists, weights)
    cand, sc = index.candidates(case)
    order = np.lexsort((cand, -sc))[:max(0, top)]
    out = []
    for k in order:
        spec = index.specialists[cand[k]]
        ev = scoring.evaluate(case, spec, index.weights, table=index.table)
        out.append(Ranked(spec["id"], float(sc[k]), ev.factors, ev.reasons))
    return out


# --- batch ----------------------------------------------------------------------------------------------------------

@dataclass
class Edges:
    """Feasible pairs grouped by case: case i owns cols/scores[ptr[i]:ptr[i+1]] (specialist positions ascending)."""

    ptr: np.ndarray
    cols: np.ndarray
    scores: np.ndarray

    @property
    def rows(self) -> np.ndarray:
        return np.repeat(np.arange(self.ptr.size - 1), np.diff(self.ptr))


def build_edges(cases: list[dict], index: SpecialistIndex) -> Edges:
    cols, scores, ptr = [], [], np.zeros(len(cases) + 1, dtype=np.int64)
    for i, case in enumerate(cases):
        cand, sc = index.candidates(case)
        cols.append(cand)
        scores.append(sc)
        ptr[i + 1] = ptr[i] + cand.size
    if not cases:
        return Edges(ptr, EMPTY, np.empty(0))
    return Edges(ptr, np.concatenate(cols).astype(np.int64), np.concatenate(scores))


@dataclass
class Result:
    specialist_ids: list[str | None]  # per case, input order
    scores: list[float | None]
    candidates: list[int]  # feasible specialists per case
    objective: float
    seconds: float

    @property
    def assigned(self) -> int:
        return sum(s is not None for s in self.specialist_ids)

    @property
    def unassigned(self) -> int:
        return len(self.specialist_ids) - self.assigned


def _result(match: np.ndarray, edges: Edges, index: SpecialistIndex, started: float) -> Result:
    ids, scores = [], []
    for i, j in enumerate(match.tolist()):
        if j < 0:
            ids.append(None)
            scores.append(None)
            continue
        lo, hi = edges.ptr[i], edges.ptr[i + 1]
        k = lo + int(np.searchsorted(edges.cols[lo:hi], j))
        ids.append(index.ids[j])
        scores.append(float(edges.scores[k]))
    objective = float(sum(s for s in scores if s is not None))
    return Result(ids, scores, np.diff(edges.ptr).tolist(), objective, time.perf_counter() - started)


def solve_exact(edges: Edges, capacity: np.ndarray) -> np.ndarray:
    """Max-cardinality, then max-score assignment of cases to specialist positions (-1 = unassigned)."""
    n_cases, n_spec = edges.ptr.size - 1, capacity.size
    match = np.full(n_cases, -1, dtype=np.int64)
    usable = capacity[edges.cols] > 0
    rows, cols, scores = edges.rows[usable], edges.cols[usable], edges.scores[usable]
    if rows.size == 0:
        return match
    graph = coo_matrix((np.ones(rows.size), (rows, cols + n_cases)), shape=(n_cases + n_spec,) * 2)
    _n, labels = connected_components(graph, directed=False)
    edge_label = labels[rows]
    order = np.argsort(edge_label, kind="stable")
    bounds = np.searchsorted(edge_label[order], np.unique(edge_label), side="left").tolist() + [rows.size]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        sel = order[a:b]
        _solve_component(rows[sel], cols[sel], scores[sel], np.unique(rows[sel]), capacity, match)
    return match


def _solve_component(rows, cols, scores, comp_cases, capacity, match) -> None:
    if comp_cases.size == 1 and rows.size:  # one case: its best specialist (ties: lowest position)
        best = np.lexsort((cols, -scores))[0]
        match[comp_cases[0]] = cols[best]
        return
    specs, local_col = np.unique(cols, return_inverse=True)
    local_row = np.searchsorted(comp_cases, rows)
    n = comp_cases.size
    degree = np.bincount(local_col, minlength=specs.size)
    slots = np.minimum(capacity[specs], degree)
    offset = np.cumsum(slots) - slots
    rep = slots[local_col]
    starts = np.cumsum(rep) - rep
    slot_col = np.repeat(offset[local_col], rep) + (np.arange(rep.sum()) - np.repeat(starts, rep))
    n_slots = int(slots.sum())
    r = np.concatenate([np.repeat(local_row, rep), np.arange(n)])
    c = np.concatenate([slot_col, n_slots + np.arange(n)])
    cost = np.concatenate([np.repeat(2.0 - scores, rep), np.full(n, n + 3.0)])
    graph = csr_matrix((cost, (r, c)), shape=(n, n_slots + n))
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    owner = np.repeat(specs, slots)
    real = col_ind < n_slots
    match[comp_cases[row_ind[real]]] = owner[col_ind[real]]


def greedy_match(cases: list[dict], edges: Edges, capacity: np.ndarray) -> np.ndarray:
    """Case by case (STAT, then urgent, then routine; input order within), each to its best specialist left."""
    remaining = capacity.copy()
    match = np.full(len(cases), -1, dtype=np.int64)
    order = sorted(range(len(cases)), key=lambda i: (URGENCY_ORDER[cases[i]["urgency"]], i))
    for i in order:
        lo, hi = edges.ptr[i], edges.ptr[i + 1]
        if lo == hi:
            continue
        cols, sc = edges.cols[lo:hi], edges.scores[lo:hi]
        open_ = remaining[cols] > 0
        if not open_.any():
            continue
        k = int(np.argmax(np.where(open_, sc, -1.0)))
        match[i] = cols[k]
        remaining[cols[k]] -= 1
    return match


def assign(cases: list[dict], specialists, *, weights: Weights | None = None) -> Result:
    """Exact batch assignment (every case that can be assigned is, then the highest total score)."""
    started = time.perf_counter()
    index = index_for(specialists, weights)
    edges = build_edges(cases, index)
    return _result(solve_exact(edges, index.free), edges, index, started)


def greedy(cases: list[dict], specialists, *, weights: Weights | None = None) -> Result:
    """The case-by-case baseline, for comparison with assign()."""
    started = time.perf_counter()
    index = index_for(specialists, weights)
    edges = build_edges(cases, index)
    return _result(greedy_match(cases, edges, index.free), edges, index, started)


def with_fallback(cases: list[dict], index: SpecialistIndex) -> list[dict]:
    """The cases, each one nobody of its specialty can take moved to the parent specialty (scoring.may_take's
    rule) when someone there can, marked `fallback_from` so that the explanation says so."""
    out = []
    for case in cases:
        parent = scoring.fallback_specialty(case["specialty"])
        if parent and not case.get("fallback_from") and not index.feasible(case).size:
            moved = {**case, "specialty": parent, "fallback_from": case["specialty"]}
            if index.feasible(moved).size:
                case = moved
        out.append(case)
    return out


def explain_unassigned(case: dict, candidates: int, index: SpecialistIndex) -> list[str]:
    if candidates:
        return [ngettext("the only eligible specialist was needed for another case in this batch",
                         "all %(n)d eligible specialists were needed for other cases in this batch",
                         candidates) % {"n": candidates}]
    return [_("no specialist meets every hard constraint"), *index.blockers(case)]
