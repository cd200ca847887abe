"""Records checklist labels are data in English, Spanish and Japanese, worded in the reader's language when shown."""

from __future__ import annotations

import csv

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from konsil.cases.services import transition
from konsil.records.models import RecordsRequest
from konsil.triage import completeness
from konsil.triage.engine import Proposal
from konsil.triage.knowledge import HERE

BREAST = {
    "pathology_report": ("Breast biopsy pathology report", "Informe anatomopatológico de la biopsia de mama",
                         "乳房生検の病理報告書"),
    "receptor_status": ("Receptor status (ER, PR, HER2)", "Estado de los receptores (RE, RP, HER2)",
                        "受容体の状態(ER、PgR、HER2)"),
    "breast_imaging": ("Breast imaging (mammogram, ultrasound or MRI)", "Imagen mamaria (mamografía, ecografía o RM)",
                       "乳房の画像検査(マンモグラフィ、超音波またはMRI)"),
}


def breast_checklist():
    return completeness.checklist(["hematology_oncology"], "", icd10=["C50.911"])


@pytest.mark.parametrize("name", ["checklists.csv", "condition_checklists.csv"])
def test_every_row_has_a_spanish_and_a_japanese_label(name):
    with (HERE / name).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        assert row["label"].strip() and row["label_es"].strip() and row["label_ja"].strip(), row
        assert any(ord(ch) > 0x3000 for ch in row["label_ja"]), row  # written in Japanese script
    assert sum(row["label_es"] != row["label"] for row in rows) > 0.9 * len(rows)  # "ECG" may stay "ECG"


def test_the_loaded_items_carry_the_three_labels():
    for rows in (*completeness.items().values(), *completeness.condition_items().values()):
        for item in rows:
            assert item.label and item.label_es and item.label_ja


def test_the_stored_checklist_keeps_english_labels_and_item_codes():
    with translation.override("es"):
        rows = {row["item"]: row for row in breast_checklist()}
    for code, (en, _es, _ja) in BREAST.items():
        assert rows[code]["label"] == en
        assert rows[code]["condition"] == "breast_cancer"


@pytest.mark.parametrize("language, column", [("en", 0), ("es", 1), ("ja", 2), ("es-mx", 1)])
def test_a_breast_cancer_checklist_follows_the_active_language(language, column):
    rows = {row["item"]: row for row in breast_checklist()}
    with translation.override(language):
        shown = {code: completeness.label_for(rows[code]) for code in BREAST}
    assert shown == {code: labels[column] for code, labels in BREAST.items()}


def test_an_older_proposal_with_only_the_english_label_is_translated():
    old = {"item": "receptor_status", "label": "Receptor status (ER, PR, HER2)", "present": False}
    assert completeness.label_for(old, "ja") == "受容体の状態(ER、PgR、HER2)"
    specialty = {"item": "echo_report", "label": "Echocardiogram report"}
    assert completeness.label_for(specialty, "es") == "Informe de ecocardiograma"


def test_unknown_items_and_languages_fall_back_to_what_is_stored():
    assert completeness.label_for({"item": "made_up", "label": "Something else"}, "es") == "Something else"
    assert completeness.label_for({"item": "made_up", "label": ""}, "ja") == "made_up"
    assert completeness.label_for({"item": "receptor_status", "label": "Receptor status (ER, PR, HER2)"},
                                  "fr") == "Receptor status (ER, PR, HER2)"
    assert completeness.label_for({}, "es") == ""
    assert completeness.label_for(None, "es") == ""


class Stub:
    pass


@pytest.mark.parametrize("language", ["es", "ja"])
def test_the_proposal_details_show_the_checklist_in_the_active_language(language):
    proposal = Stub()
    proposal.red_flags, proposal.inconsistencies, proposal.checklist = [], [], breast_checklist()
    column = {"es": 1, "ja": 2}[language]
    with translation.override(language):
        html = render_to_string("triage/proposal_details.html", {"proposal": proposal})
    for en, *translated in BREAST.values():
        assert translated[column - 1] in html
        assert en not in html
    with translation.override("en"):
        html = render_to_string("triage/proposal_details.html", {"proposal": proposal})
    assert all(en in html for en, *_ in BREAST.values())


def test_a_summary_with_nothing_to_show_leaves_no_empty_heading():
    """An extract whose sections are all empty shows no "Summary from the records" to open onto nothing."""
    proposal = Stub()
    proposal.red_flags, proposal.inconsistencies, proposal.checklist = [], [], []
    proposal.summary, proposal.summary_sections = {"history": [], "problems": []}, []
    with translation.override("en"):
        html = render_to_string("triage/proposal_details.html", {"proposal": proposal})
        assert "Summary from the records" not in html and "summary-extract" not in html
        proposal.summary_sections = [("Key history", [{"text": "Lump in the left breast", "ref": "case:1"}])]
        html = render_to_string("triage/proposal_details.html", {"proposal": proposal})
    assert "Summary from the records" in html and "Lump in the left breast" in html


class BreastChecklistEngine:
    name, version = "fixed", "1"

    def propose(self, case):
        return Proposal(specialty="hematology_oncology", ranked=[{"code": "hematology_oncology", "probability": 0.9}],
                        checklist=breast_checklist())


@pytest.mark.django_db
def test_the_coordinator_sees_the_checklist_and_records_requests_in_spanish(settings, client, login, draft_case,
                                                                              coordinator, patient_user):
    from konsil.triage.services import propose

    settings.KONSIL_TRIAGE_ENGINE = "tests.triage.test_checklist_i18n.BreastChecklistEngine"
    transition(actor=patient_user, case=draft_case, action="submit")
    proposal = propose(case=draft_case)
    assert any(item["item"] == "receptor_status" for item in proposal.missing_items)
    login(client, coordinator)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    response = client.post(reverse("records:request", args=[draft_case.pk]),
                           {"items": ["receptor_status"], "method": "patient"}, follow=True)
    assert response.status_code == 200
    stored = RecordsRequest.objects.get(case=draft_case, item="receptor_status")
    assert stored.label == "Receptor status (ER, PR, HER2)"  # stored in English, worded when shown
    page = client.get(reverse("cases:detail", args=[draft_case.pk])).content.decode()
    assert "Estado de los receptores (RE, RP, HER2)" in page
    assert "Imagen mamaria (mamografía, ecografía o RM)" in page
    assert "Receptor status (ER, PR, HER2)" not in page


def test_a_checklist_file_without_the_translated_columns_does_not_load(monkeypatch, tmp_path):
    from konsil.triage import knowledge
    from konsil.triage.knowledge import KnowledgeError

    (tmp_path / completeness.FILE).write_text("specialty,item,label,keywords,source\n*,history,History,history,S\n",
                                              encoding="utf-8")
    monkeypatch.setattr(knowledge, "HERE", tmp_path)
    completeness.items.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match=r"checklists\.csv line 1: missing column\(s\) label_es, label_ja"):
            completeness.items()
    finally:
        monkeypatch.undo()
        completeness.items.cache_clear()
