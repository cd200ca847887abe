"""Extractive summary: sections, medications, results, refs, dedupe, caps."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from konsil.triage import summary

MTSAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "triage" / "mtsamples_train.csv"

NOTE = """HISTORY OF PRESENT ILLNESS: The patient is a 58-year-old woman referred for a second opinion on a newly
diagnosed left breast mass. She noticed the lump in March.
PAST MEDICAL HISTORY: Hypertension. Type 2 diabetes.
SOCIAL HISTORY: Never smoker.
MEDICATIONS: Lisinopril 10 mg daily, metformin 500 mg b.i.d., aspirin 81 mg daily.
ALLERGIES: Penicillin.
LABORATORY DATA: Hemoglobin 12.1 g/dL. Creatinine 0.9 mg/dL.
IMPRESSION: Invasive ductal carcinoma of the left breast, clinical stage IIA.
PLAN: Discuss at tumour board.
"""


def texts(items):
    return [item["text"] for item in items]


def test_sections_land_in_their_categories_with_refs():
    out = summary.extract([{"ref": "doc-1", "kind": "pdf", "text": NOTE}])
    assert set(out) == {"history", "problems", "medications", "results"}
    assert any("58-year-old woman" in t for t in texts(out["history"]))
    assert "Hypertension." in texts(out["history"])
    assert texts(out["medications"]) == ["Lisinopril 10 mg daily", "metformin 500 mg b.i.d.", "aspirin 81 mg daily."]
    assert texts(out["results"]) == ["Hemoglobin 12.1 g/dL.", "Creatinine 0.9 mg/dL."]
    assert texts(out["problems"]) == ["Invasive ductal carcinoma of the left breast, clinical stage IIA."]
    everything = [item for items in out.values() for item in items]
    assert all(item["ref"] == "doc-1" for item in everything)
    assert not any("smoker" in t or "Penicillin" in t or "tumour board" in t for t in texts(everything))


def test_mtsamples_comma_format_and_unsectioned_text():
    note = ("CHIEF COMPLAINT:, Chest pain.,HISTORY OF PRESENT ILLNESS:, A 64-year-old man with exertional chest "
            "pain.,MEDICATIONS:,1.  Metoprolol 25 mg b.i.d.,2.  Atorvastatin 40 mg daily.,ASSESSMENT:,1.  Stable "
            "angina.,2.  Hyperlipidemia.")
    free = "Echocardiogram showed an ejection fraction of 35%. She takes furosemide 40 mg daily. The weather was fine."
    out = summary.extract([{"ref": "a", "kind": "note", "text": note}, {"ref": "b", "kind": "fhir", "text": free}])
    assert "Metoprolol 25 mg b.i.d." in texts(out["medications"])
    assert {"ref": "b", "text": "She takes furosemide 40 mg daily."} in out["medications"]
    assert texts(out["problems"]) == ["Stable angina.", "Hyperlipidemia."]
    assert {"ref": "b", "text": "Echocardiogram showed an ejection fraction of 35%."} in out["results"]
    assert not any("weather" in item["text"] for items in out.values() for item in items)


def test_title_case_headers_inside_a_paragraph():
    text = ("Referred for chest pain. Medications: metoprolol 50 mg daily. "
            "Impression: stable angina. Plan: review in clinic.")
    out = summary.extract([{"ref": "h", "kind": "history", "text": text}])
    assert texts(out["medications"]) == ["metoprolol 50 mg daily."]
    assert texts(out["problems"]) == ["stable angina."]
    assert texts(out["history"]) == ["Referred for chest pain."]


def test_dedupe_cap_and_trim():
    repeated = "MEDICATIONS: " + ", ".join(f"Drug{i} {i + 1} mg daily" for i in range(20))
    long_line = "IMPRESSION: " + "very " * 80 + "long impression."
    out = summary.extract([{"ref": "x", "kind": "pdf", "text": repeated},
                           {"ref": "y", "kind": "pdf", "text": repeated},
                           {"ref": "z", "kind": "pdf", "text": long_line}])
    assert len(out["medications"]) == summary.LIMIT
    assert {item["ref"] for item in out["medications"]} == {"x"}
    (problem,) = out["problems"]
    assert len(problem["text"]) <= summary.MAX_CHARS and problem["text"].endswith("…")
    assert len(summary.extract([{"ref": "x", "kind": "pdf", "text": repeated}], limit=3)["medications"]) == 3


def test_bad_inputs():
    empty = {"history": [], "problems": [], "medications": [], "results": []}
    assert summary.extract([]) == empty
    assert summary.extract(None) == empty
    assert summary.extract(["not a dict", {"ref": None, "text": None}, {}]) == empty
    assert summary.extract([{"ref": "r", "kind": "pdf", "text": "MEDICATIONS: None."}]) == empty


def test_real_notes_from_the_training_file():
    if not MTSAMPLES.exists():
        pytest.skip(f"{MTSAMPLES} not available")
    with MTSAMPLES.open(newline="", encoding="utf-8") as fh:
        rows = [row for _, row in zip(range(200), csv.DictReader(fh), strict=False)]
    sources = [{"ref": row["id"], "kind": "note", "text": row["text"]} for row in rows]
    by_ref = {row["id"]: row["text"] for row in rows}
    filled = set()
    for source in sources[:60]:
        out = summary.extract([source])
        for category, items in out.items():
            assert len(items) <= summary.LIMIT
            for item in items:
                assert item["ref"] == source["ref"]
                assert 0 < len(item["text"]) <= summary.MAX_CHARS
                words = item["text"].rstrip("…").split()[:4]
                assert " ".join(words) in " ".join(by_ref[item["ref"]].split())  # extractive
                filled.add(category)
    assert filled == {"history", "problems", "medications", "results"}
    medications = next(summary.extract([s])["medications"] for s in sources if "MEDICATIONS:,1." in by_ref[s["ref"]])
    assert medications and all(item["text"] for item in medications)
