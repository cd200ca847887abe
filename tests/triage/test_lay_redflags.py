"""Red flags in a patient's own words, in English, Spanish and Japanese: never routine."""

from __future__ import annotations

import pytest

from konsil.triage import redflags


@pytest.mark.parametrize(("text", "code", "urgency"), [
    ("This is the worst headache of my life and it came on an hour ago.", "subarachnoid_hemorrhage", "stat"),
    ("I can't move one side of my body since this morning.", "stroke", "stat"),
    ("I have chest pain going into my left arm.", "acs", "stat"),
    ("My chest hurts when I climb stairs.", "acs", "urgent"),
    ("I want to kill myself.", "suicidal_intent", "stat"),
    ("I've been throwing up blood today.", "gi_bleeding", "stat"),
    ("Me duele el pecho desde anoche.", "acs", "urgent"),
    ("Tengo dolor de pecho que se me va al brazo izquierdo.", "acs", "stat"),
    ("Es el peor dolor de cabeza de mi vida.", "subarachnoid_hemorrhage", "stat"),
    ("No puedo mover el brazo izquierdo y la cara torcida.", "stroke", "stat"),
    ("No puedo respirar.", "breathing_emergency", "stat"),
    ("突然、人生で一番ひどい頭痛がしました。", "subarachnoid_hemorrhage", "stat"),
    ("昨日から胸が痛いです。", "acs", "urgent"),
    ("胸が締め付けられて左腕まで痛みます。", "acs", "stat"),
    ("今朝から右半身が動かないです。", "stroke", "stat"),
    ("死にたいと思うことがあります。", "suicidal_intent", "stat"),
    ("熱があって首が硬くて曲げられません。", "meningitis", "stat"),
])
def test_lay_red_flags_in_three_languages(text, code, urgency):
    found, flags = redflags.assess(text)
    assert found != "routine"
    by_code = {f["code"]: f for f in flags}
    assert code in by_code, flags
    assert by_code[code]["urgency"] == urgency and by_code[code]["source"] and by_code[code]["evidence"]


@pytest.mark.parametrize("text", [
    "No me duele el pecho.",
    "I don't have chest pain.",
    "I can't breathe through my nose when I have a cold.",
    "My knee hurts when I climb stairs.",
    "膝が痛いです。",
    "Tengo dolor de rodilla.",
])
def test_everyday_complaints_and_negations_stay_routine(text):
    assert redflags.assess(text) == ("routine", [])
