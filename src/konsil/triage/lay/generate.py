"""Training text in the patient register, generated from templates and the lay lexicon (fixed seed).

Each text is one to three first-person sentences in English, Spanish or Japanese about one class: symptoms
("I've had swollen ankles for three months"), what a doctor said and proposes ("I was told I have a leaky
heart valve and they want to do a heart cath"), medicines, with distractors a patient adds (tiredness,
worry, age, a request for a second opinion, tests and organs named in passing, another condition "under
control"). Pediatrics speaks through a parent. The hand-written texts in
heldout.csv are never generated here and never trained on.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from . import LANGUAGES, Concept, concepts

SEED = 17

SYM = {
    "en": ["I have {x}.", "I've had {x} for {d}.", "For {d} now I have had {x}.", "I keep getting {x}.",
           "Lately I've noticed {x}.", "I'm worried about {x}.", "{X} for {d}, what should I do?",
           "It started {d} ago with {x}.", "My main problem is {x}.", "I've been dealing with {x} since {d} ago.",
           "I get {x} almost every day.", "I suffer from {x}."],
    "es": ["Tengo {x}.", "Desde hace {d} tengo {x}.", "Hace {d} que tengo {x}.", "Últimamente tengo {x}.",
           "Me preocupa que tengo {x}.", "Mi problema principal es {x}.", "Sufro de {x} desde hace {d}.",
           "Empecé hace {d} con {x}.", "Casi todos los días tengo {x}.", "{X} desde hace {d}, ¿qué hago?"],
    "ja": ["{x}があります。", "{d}前から{x}があります。", "{x}で困っています。", "最近{x}が気になります。",
           "{d}くらい{x}が続いています。", "一番の悩みは{x}です。", "ほぼ毎日{x}があります。",
           "{d}前から{x}があり、心配です。"],
}
COND = {
    "en": ["I was told I have {x}.", "My doctor says I have {x}.", "I have {x}.", "I was diagnosed with {x} {d} ago.",
           "They think it might be {x}.", "The tests showed {x}.", "I've had {x} for {d}."],
    "es": ["Me dijeron que tengo {x}.", "El médico dice que tengo {x}.", "Tengo {x}.",
           "Me diagnosticaron {x} hace {d}.", "Creen que puede ser {x}.", "Los análisis salieron con {x}."],
    "ja": ["{x}と言われました。", "{x}と診断されました。", "{d}前に{x}と診断されました。", "{x}があります。",
           "検査で{x}が見つかりました。", "医者に{x}かもしれないと言われました。"],
}
PROC = {
    "en": [" and they want to do {x}.", " and now they want me to have {x}.", ". My doctor recommended {x}.",
           ". Should I have {x}?", " and I was offered {x}."],
    "es": [" y quieren hacerme {x}.", ". El médico me recomendó {x}.", ". ¿Debo hacerme {x}?",
           " y me ofrecieron {x}."],
    "ja": ["{x}を勧められました。", "{x}をすると言われました。", "{x}を受けるべきか迷っています。"],
}
STMT = {  # whole statements ("my knee hurts"): said as they are, with a time or a complaint around them
    "en": ["{X}.", "{X} and it's getting worse.", "For {d} now {x}.", "{X}, it started {d} ago.", "Lately {x}.",
           "{X} and I don't know what to do."],
    "es": ["{X}.", "Desde hace {d} {x}.", "{X} y cada vez es peor.", "Últimamente {x}.", "{X} y no sé qué hacer."],
    "ja": ["{x}。", "{d}前から{x}。", "最近、{x}。", "{x}。どうしたらいいですか。"],
}
DRUG = {
    "en": ["I take {x}.", "I was put on {x}.", "I've been on {x} for {d}."],
    "es": ["Tomo {x}.", "Me recetaron {x}.", "Uso {x} desde hace {d}."],
    "ja": ["{x}を使っています。", "{x}を処方されています。"],
}
KID = {
    "en": ["My {k} has {x}.", "My {k} has had {x} for {d}.", "I'm worried about my {k}: {x}.",
           "My {k} was diagnosed with {x}."],
    "es": ["Mi {k} tiene {x}.", "Mi {k} tiene {x} desde hace {d}.", "Me preocupa mi {k}: {x}.",
           "A mi {k} le diagnosticaron {x}."],
    "ja": ["{k}に{x}があります。", "{k}が{d}前から{x}で心配です。", "{k}が{x}と言われました。"],
}
KIDS = {"en": ["baby", "2-year-old son", "4-year-old daughter", "toddler", "7-year-old", "newborn", "son", "daughter"],
        "es": ["bebé", "hijo de 2 años", "hija de 4 años", "niño", "hija", "hijo de 7 años"],
        "ja": ["赤ちゃん", "2歳の息子", "4歳の娘", "子ども", "小学生の息子", "娘"]}
DURATIONS = {"en": ["two weeks", "three months", "a year", "a few days", "six months", "two years", "a month"],
             "es": ["dos semanas", "tres meses", "un año", "unos días", "seis meses", "dos años", "un mes"],
             "ja": ["2週間", "3か月", "1年", "数日", "半年", "2年", "1か月"]}
FILLERS = {
    "en": ["I'd like a second opinion.", "Please help.", "I'm 54.", "I'm a 67-year-old woman.", "I'm really scared.",
           "Nothing has helped so far.", "What kind of doctor should I see?", "I'm 38 and otherwise healthy.",
           "It is affecting my work."],
    "es": ["Quiero una segunda opinión.", "Por favor ayúdenme.", "Tengo 54 años.", "Estoy muy preocupada.",
           "Nada me ha ayudado.", "¿Qué especialista debo ver?", "Soy un hombre de 62 años."],
    "ja": ["セカンドオピニオンをお願いします。", "とても不安です。", "54歳です。", "何科に行けばいいですか。",
           "薬を飲んでも良くなりません。", "仕事にも影響が出ています。", "68歳の女性です。"],
}

# what patients add around the problem: tests, other doctors, organs named in passing (not the problem)
CONTEXT = {
    "en": ["My blood work came back mostly normal.", "My blood pressure is fine.", "I had a scan last month.",
           "My GP sent me for more tests.", "I've had surgery before but that healed well.",
           "They checked my heart and it was okay.", "I take a few medicines already.",
           "My mom had something similar.", "My skin and eyes are fine.", "I've been to the ER twice."],
    "es": ["Los análisis de sangre salieron casi normales.", "La presión la tengo bien.",
           "Me hicieron un estudio el mes pasado.", "Mi médico de cabecera me mandó más pruebas.",
           "Ya me operaron antes pero eso sanó bien.", "Me revisaron el corazón y estaba bien.",
           "Ya tomo varias medicinas.", "Mi mamá tuvo algo parecido.", "Fui a urgencias dos veces."],
    "ja": ["血液検査はほぼ正常でした。", "血圧は問題ありません。", "先月検査を受けました。",
           "かかりつけ医から紹介されました。", "以前手術を受けましたが、それは治っています。",
           "心臓は大丈夫だと言われました。", "すでに薬をいくつか飲んでいます。", "母も似たような病気でした。",
           "救急外来に二回行きました。"],
}
OTHER = {  # another condition said in passing
    "en": ["I also have {x}, but that is under control.", "I had {x} years ago.", "Besides this I have {x}."],
    "es": ["También tengo {x}, pero está controlado.", "Hace años tuve {x}.", "Además tengo {x}."],
    "ja": ["{x}もありますが、落ち着いています。", "以前{x}と言われたことがあります。"],
}


@dataclass
class Text:
    text: str
    label: str
    language: str
    concepts: tuple[str, ...]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _fill(template: str, term: str, lang: str, rng: random.Random, kid: str = "") -> str:
    return template.format(x=term, X=_cap(term), d=rng.choice(DURATIONS[lang]), k=kid)


def _by_label(allow=None, lang: str = "") -> dict[str, dict[str, list[Concept]]]:
    """Concepts by class and kind; with `allow(concept, language, term)`, only the allowed terms of `lang`."""
    from dataclasses import replace

    out: dict[str, dict[str, list[Concept]]] = {}
    for c in concepts():
        if allow is not None:
            kept = tuple(t for t in c.terms[lang] if allow(c.concept, lang, t))
            if not kept:
                continue
            c = replace(c, terms={**c.terms, lang: kept})
        out.setdefault(c.label, {}).setdefault(c.kind, []).append(c)
    return out


def _sentence(concept: Concept, lang: str, rng: random.Random, kid: str = "") -> str:
    term = rng.choice(concept.terms[lang])
    if kid and concept.kind != "stmt":
        return _fill(rng.choice(KID[lang]), term, lang, rng, kid)
    if concept.kind == "stmt":
        return _fill(rng.choice(STMT[lang]), term.rstrip("。"), lang, rng)
    if concept.kind == "drug":
        return _fill(rng.choice(DRUG[lang]), term, lang, rng)
    if concept.kind == "cond":
        return _fill(rng.choice(COND[lang]), term, lang, rng)
    if concept.kind == "proc":  # on its own: "my doctor recommended X"
        return _fill(PROC[lang][2 if lang != "ja" else 0].lstrip(". "), term, lang, rng)
    return _fill(rng.choice(SYM[lang]), term, lang, rng)


def texts(per_class: int = 40, languages=LANGUAGES, seed: int = SEED, allow=None) -> list[Text]:
    """`per_class` texts per class and language; `allow(concept, language, term)` restricts the terms used
    (cross-validation on held-out wording)."""
    rng = random.Random(seed)
    out = []
    by_lang = {lang: _by_label(allow, lang) for lang in languages}
    labels = sorted({label for groups in by_lang.values() for label in groups})
    for label in labels:
        for lang in languages:
            groups = by_lang[lang]
            if label not in groups:
                continue
            kinds = groups[label]
            vague = groups.get("internal_medicine", {}).get("sym", [])
            pool = [c for kind in ("sym", "cond", "drug", "proc", "stmt", "stmt") for c in kinds.get(kind, [])]
            others = [c for other, k in groups.items() if other not in (label, "internal_medicine")
                      for c in k.get("cond", [])]
            if not pool:  # only place words ("my knee") left for this class in this fold: nothing to say
                continue
            for _ in range(per_class):
                out.append(_one(label, kinds, pool, vague, lang, rng, others))
    return out


def _one(label, kinds, pool, vague, lang, rng, others=()) -> Text:
    used: list[Concept] = []
    kid = rng.choice(KIDS[lang]) if label == "pediatrics" else ""
    shape = rng.random()
    conds, procs = kinds.get("cond", []), kinds.get("proc", [])
    if not kid and conds and procs and shape < 0.3:  # "I was told I have X and they want to do Y"
        cond, proc = rng.choice(conds), rng.choice(procs)
        used += [cond, proc]
        first = _sentence(cond, lang, rng)
        clause = _fill(rng.choice(PROC[lang]), rng.choice(proc.terms[lang]), lang, rng)
        sentences = [first[:-1] + clause if lang != "ja" else first + clause]
    else:
        first = rng.choice(pool)
        used.append(first)
        sentences = [_sentence(first, lang, rng, kid)]
        if rng.random() < 0.45:
            second = rng.choice(pool)
            if second is not first:
                used.append(second)
                sentences.append(_sentence(second, lang, rng, kid))
    if vague and label != "internal_medicine" and rng.random() < 0.25:  # patients add how tired they are
        sentences.insert(rng.randrange(len(sentences) + 1), _sentence(rng.choice(vague), lang, rng))
    if rng.random() < 0.2:  # context a patient adds: tests, other doctors, organs named in passing
        sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(CONTEXT[lang]))
    if others and rng.random() < 0.15:  # another condition, said in passing after the problem
        other = rng.choice(others)
        sentences.append(_fill(rng.choice(OTHER[lang]), rng.choice(other.terms[lang]), lang, rng))
    if rng.random() < 0.35:
        sentences.append(rng.choice(FILLERS[lang]))
    joiner = "" if lang == "ja" else " "
    return Text(joiner.join(sentences), label, lang, tuple(c.concept for c in used))


def rows(per_class: int = 40) -> Iterator[dict]:
    for t in texts(per_class):
        yield {"text": t.text, "label": t.label, "language": t.language}
