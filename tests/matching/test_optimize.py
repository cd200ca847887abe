"""Vectorized feasibility and scores, single-case ranking, exact batch assignment and the greedy baseline."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from konsil.matching import optimize, scoring
from konsil.matching.optimize import Edges, SpecialistIndex, solve_exact
from konsil.matching.scoring import parse_case, parse_specialist

STATES = ["CA", "TX", "NY", "AL", "FL"]
SPECIALTIES = ["cardiology", "electrophysiology", "interventional_cardiology", "dermatology"]


def random_specialist(rng: random.Random, k: int) -> dict:
    return parse_specialist({
        "id": f"s{k}", "specialties": [rng.choice(SPECIALTIES)],
        "subspecialties": ["electrophysiology"] if rng.random() < 0.2 else [],
        "licensed_states": rng.sample(STATES, rng.randint(0, 3)), "imlc": rng.random() < 0.5,
        "languages": rng.sample(["en", "es", "ja"], rng.randint(1, 2)), "capacity": rng.randint(0, 3),
        "active": rng.choice([0, 0, 1]), "institution": rng.choice(["A", "B", "C"]),
        "affiliations": ["D"] if rng.random() < 0.2 else [], "turnaround_hours": rng.choice([12, 24, 48, 100, 200]),
        "quality": rng.choice([None, round(rng.random(), 2)]), "accepting": rng.random() < 0.9,
        "delivery_modes": rng.sample(["written", "video", "phone"], rng.randint(1, 3)),
        "utc_offset": rng.choice([None, -5, -8]), "fee": rng.choice([None, 300, 900, 1500]),
    })


def random_case(rng: random.Random, k: int, n_spec: int) -> dict:
    raw = {"id": f"c{k}", "specialty": rng.choice(SPECIALTIES[:2] + ["dermatology"]), "state": rng.choice(STATES),
           "language": rng.choice(["en", "en", "es", "ja"]), "urgency": rng.choice(["routine", "urgent", "stat"]),
           "channel": rng.choice(["patient", "clinician", "payer", "employer"]), "interpreter": rng.random() < 0.2}
    if rng.random() < 0.4:
        raw["subspecialty"] = "electrophysiology"
        raw["subspecialty_required"] = rng.random() < 0.3
    optional = {
        "delivery": lambda: rng.choice(["written", "video"]),
        "institution_excluded": lambda: [rng.choice(["A", "D"])],
        "declined_by": lambda: [f"s{rng.randrange(n_spec)}"],
        "referring_physician": lambda: f"s{rng.randrange(n_spec)}",
        "previous_specialists": lambda: [f"s{rng.randrange(n_spec)}"],
        "utc_offset": lambda: rng.choice([-5, -6]),
    }
    for name, make in optional.items():
        if rng.random() < 0.25:
            raw[name] = make()
    return parse_case(raw)


def instance(seed: int, n_cases: int, n_spec: int):
    rng = random.Random(seed)
    specs = [random_specialist(rng, k) for k in range(n_spec)]
    return [random_case(rng, k, n_spec) for k in range(n_cases)], specs


def brute_force(n_cases: int, edges: Edges, capacity: np.ndarray) -> tuple[int, float]:
    """Best (assigned, total score) by enumerating every assignment."""
    options = []
    for i in range(n_cases):
        lo, hi = edges.ptr[i], edges.ptr[i + 1]
        options.append([None, *zip(edges.cols[lo:hi].tolist(), edges.scores[lo:hi].tolist(), strict=True)])
    best = (0, 0.0)
    for choice in itertools.product(*options):
        used = np.zeros(capacity.size, dtype=int)
        count, total = 0, 0.0
        for pick in choice:
            if pick is not None:
                used[pick[0]] += 1
                count += 1
                total += pick[1]
        if (used <= capacity).all() and (count, total) > (best[0], best[1] + 1e-12):
            best = (count, total)
    return best


def outcome(match: np.ndarray, edges: Edges, capacity: np.ndarray) -> tuple[int, float]:
    used = np.bincount(match[match >= 0], minlength=capacity.size)
    assert (used <= capacity).all()
    total = 0.0
    for i, j in enumerate(match.tolist()):
        if j >= 0:
            lo, hi = edges.ptr[i], edges.ptr[i + 1]
            assert j in edges.cols[lo:hi].tolist(), "only feasible pairs"
            total += float(edges.scores[lo + list(edges.cols[lo:hi]).index(j)])
    return int((match >= 0).sum()), total


def hand_edges(rows: list[list[tuple[int, float]]]) -> Edges:
    ptr = np.cumsum([0] + [len(r) for r in rows])
    cols = np.array([j for r in rows for j, _ in r], dtype=np.int64)
    return Edges(ptr, cols, np.array([s for r in rows for _, s in r], dtype=float))


# --- vectorized == scalar ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_vectorized_feasibility_and_scores_match_the_scalar_rules(seed):
    cases, specs = instance(seed, 60, 40)
    index = SpecialistIndex(specs)
    for case in cases:
        cand, sc = index.candidates(case)
        expected = [i for i, s in enumerate(specs) if scoring.check(case, s)[0]]
        assert cand.tolist() == expected
        for j, value in zip(cand.tolist(), sc.tolist(), strict=True):
            assert value == scoring.score(case, specs[j]).value  # same arithmetic, bit for bit


def test_blockers_explain_an_empty_candidate_list():
    specs = [parse_specialist({"id": "s1", "specialties": ["cardiology"], "licensed_states": ["NY"],
                               "languages": ["en"], "capacity": 2, "turnaround_hours": 24}),
             parse_specialist({"id": "s2", "specialties": ["cardiology"], "licensed_states": ["TX"],
                               "languages": ["ja"], "capacity": 2, "turnaround_hours": 24}),
             parse_specialist({"id": "s3", "specialties": ["cardiology"], "licensed_states": ["TX"],
                               "languages": ["en"], "capacity": 2, "turnaround_hours": 24, "institution": "X"})]
    index = SpecialistIndex(specs)
    case = parse_case({"id": "c", "specialty": "cardiology", "state": "TX", "language": "en", "urgency": "stat",
                       "channel": "clinician", "institution_excluded": ["X"]})
    reasons = optimize.explain_unassigned(case, 0, index)
    assert reasons[0] == "no specialist meets every hard constraint"
    assert "3 specialists practise Cardiology" in reasons
    assert "1 is not eligible where the patient is: not licensed in TX and TX requires a Texas licence" in reasons
    assert "1 does not speak the patient's language" in reasons
    assert "1 has a conflict of interest or declined the case" in reasons
    derm = parse_case({**{k: case[k] for k in ("id", "state", "language", "urgency", "channel")},
                       "specialty": "dermatology"})
    assert optimize.explain_unassigned(derm, 0, index)[1] == "no specialist practises Dermatology"
    assert "all 2 eligible" in optimize.explain_unassigned(case, 2, index)[0]
    assert optimize.explain_unassigned(case, 1, index)[0].startswith("the only eligible specialist was needed")


# --- ranking -----------------------------------------------------------------------------------------------------

def test_rank_orders_by_score_with_explanations():
    cases, specs = instance(11, 30, 80)
    index = SpecialistIndex(specs)
    checked = 0
    for case in cases:
        ranked = optimize.rank(case, index, top=5)
        cand, sc = index.candidates(case)
        assert len(ranked) == min(5, cand.size)
        best = sorted(zip((-sc).tolist(), cand.tolist(), strict=True))[:5]
        assert [r.specialist_id for r in ranked] == [specs[j]["id"] for _, j in best]
        for r in ranked:
            assert r.reasons and {f["factor"] for f in r.factors} >= {"deadline", "load", "quality"}
            checked += 1
    assert checked > 20


def test_rank_ties_keep_input_order_and_accepts_plain_lists():
    base = {"specialties": ["cardiology"], "licensed_states": ["CA"], "languages": ["en"], "capacity": 2,
            "turnaround_hours": 24, "quality": 0.5}
    specs = [parse_specialist({**base, "id": sid}) for sid in ("b", "a", "c")]
    case = parse_case({"id": "c", "specialty": "cardiology", "state": "CA", "language": "en", "urgency": "stat",
                       "channel": "patient"})
    assert [r.specialist_id for r in optimize.rank(case, specs)] == ["b", "a", "c"]
    assert optimize.rank(case, specs, top=0) == []
    ranked = optimize.rank(case, specs, top=1)[0]
    assert "licensed in CA" in ranked.reasons and ranked.score == pytest.approx(scoring.score(case, specs[0]).value)


# --- exact batch assignment --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(150))
def test_exact_equals_brute_force_on_random_graphs(seed):
    rng = random.Random(seed)
    n_cases, n_spec = rng.randint(1, 6), rng.randint(1, 4)
    rows = [[(j, round(rng.random(), 3)) for j in range(n_spec) if rng.random() < 0.6] for _ in range(n_cases)]
    edges = hand_edges(rows)
    capacity = np.array([rng.randint(0, 2) for _ in range(n_spec)])
    match = solve_exact(edges, capacity)
    got = outcome(match, edges, capacity)
    best = brute_force(n_cases, edges, capacity)
    assert got[0] == best[0] and got[1] == pytest.approx(best[1], abs=1e-9)


@pytest.mark.parametrize("seed", range(25))
def test_exact_equals_brute_force_on_random_cases(seed):
    cases, specs = instance(100 + seed, 6, 5)
    index = SpecialistIndex(specs)
    edges = optimize.build_edges(cases, index)
    result = optimize.assign(cases, index)
    assert (result.assigned, result.objective) == pytest.approx(brute_force(len(cases), edges, index.free))
    for case, sid in zip(cases, result.specialist_ids, strict=True):
        if sid is not None:
            assert scoring.check(case, specs[index.position[sid]])[0]


@pytest.mark.parametrize("seed", range(15))
def test_exact_is_never_worse_than_greedy(seed):
    cases, specs = instance(500 + seed, 80, 20)
    exact = optimize.assign(cases, specs)
    greedy = optimize.greedy(cases, specs)
    assert exact.assigned >= greedy.assigned
    if exact.assigned == greedy.assigned:
        assert exact.objective >= greedy.objective - 1e-9
    assert exact.candidates == greedy.candidates


def test_cardinality_comes_before_score():
    # Case 0 prefers specialist 0 (0.9) but only by taking specialist 1 (0.1) can case 1 (0.2 with 0) be assigned.
    edges = hand_edges([[(0, 0.9), (1, 0.1)], [(0, 0.2)]])
    match = solve_exact(edges, np.array([1, 1]))
    assert match.tolist() == [1, 0]
    greedy_cases = [{"urgency": "routine"}, {"urgency": "routine"}]
    assert optimize.greedy_match(greedy_cases, edges, np.array([1, 1])).tolist() == [0, -1]


def test_greedy_serves_stat_cases_first():
    edges = hand_edges([[(0, 0.9)], [(0, 0.5)]])
    cases = [{"urgency": "routine"}, {"urgency": "stat"}]
    assert optimize.greedy_match(cases, edges, np.array([1])).tolist() == [-1, 0]


def test_capacity_and_components():
    # Two independent components; specialist 0 takes two cases, specialist 2 has no capacity.
    edges = hand_edges([[(0, 0.5)], [(0, 0.6)], [(0, 0.7)], [(1, 0.4), (2, 0.9)], [(2, 0.3)]])
    match = solve_exact(edges, np.array([2, 1, 0]))
    assert sorted(match[:3].tolist()) == [-1, 0, 0] and match[0] == -1
    assert match[3:].tolist() == [1, -1]


def test_empty_inputs():
    assert optimize.assign([], []).assigned == 0
    cases, _ = instance(1, 3, 1)
    result = optimize.assign(cases, [])
    assert result.specialist_ids == [None, None, None] and result.objective == 0.0 and result.unassigned == 3


def test_patients_abroad_use_the_countries_table_in_both_paths():
    base = {"specialties": ["cardiology"], "licensed_states": ["CA"], "languages": ["en"], "capacity": 1,
            "turnaround_hours": 24}
    specs = [parse_specialist({**base, "id": "us"}),
             parse_specialist({**base, "id": "uk", "licensed_countries": ["GB"]})]
    index = SpecialistIndex(specs)
    for channel, expected in (("clinician", ["us", "uk"]), ("patient", ["uk"])):
        case = parse_case({"id": "c", "specialty": "cardiology", "country": "GB", "language": "en",
                           "urgency": "routine", "channel": channel})
        assert [specs[j]["id"] for j in index.feasible(case)] == expected
        assert [s["id"] for s in specs if scoring.check(case, s)[0]] == expected
    canada = parse_case({"id": "c", "specialty": "cardiology", "country": "CA", "state": "CA", "language": "en",
                         "urgency": "routine", "channel": "patient"})
    assert index.feasible(canada).size == 0 and not scoring.check(canada, specs[0])[0]
