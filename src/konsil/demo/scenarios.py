"""The demo's patients and cases: who they are and the path each case takes through the lifecycle."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PatientSpec:
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str
    state: str
    language: str
    login: str | None = None  # key of a demo login when the patient signs in


PATIENTS = {
    "rosa": PatientSpec("Rosa", "Ejemplo", dt.date(1968, 4, 12), "female", "CA", "es", login="patient"),
    "kenji": PatientSpec("Kenji", "Mihon", dt.date(1958, 9, 3), "male", "CA", "ja"),
    "linh": PatientSpec("Linh", "Mau", dt.date(1975, 1, 22), "female", "TX", "vi"),
    "omar": PatientSpec("Omar", "Sample", dt.date(1962, 11, 30), "male", "CA", "en"),
    "mei": PatientSpec("Mei", "Yangben", dt.date(1980, 6, 8), "female", "WA", "zh"),
    "sam": PatientSpec("Sam", "Testwell", dt.date(1971, 2, 14), "male", "FL", "en"),
    "aiko": PatientSpec("Aiko", "Rei", dt.date(1966, 7, 19), "female", "NY", "ja"),
    "tom": PatientSpec("Tom", "Dummyson", dt.date(1955, 3, 2), "male", "IL", "en"),
    "grace": PatientSpec("Grace", "Exemplar", dt.date(1949, 12, 5), "female", "OH", "en"),
    "ivan": PatientSpec("Ivan", "Primer", dt.date(1960, 10, 27), "male", "NY", "ru"),
}


@dataclass(frozen=True)
class CasePlan:
    """One demo case and the path it takes. `specialist`: "specialist" (the demo login) or "directory"."""

    reference: str
    status: str
    patient: str
    requester: str  # demo login key
    channel: str
    sponsor: str | None
    codes: tuple[str, ...]
    questions: tuple[tuple[str, str], ...]  # (question, the specialist's answer)
    treatment: str
    specialty: str  # confirmed at triage
    cpt: str = ""
    urgency: str = "routine"
    delivery: str = "written"
    summary: str = ""
    specialist: str = "directory"
    triage_reason: str = ""
    declined_first: bool = False
    attachment: str = ""
    records: bool = False  # a zipped CD export with a CT study and a FHIR health-record export
    panel: str = ""  # a multidisciplinary panel template convened after triage (opinions/data/panel_templates.csv)
    opinion: dict = field(default_factory=dict)
    amendment: str = ""
    follow_up: tuple[str, str] | None = None  # (patient's question, specialist's reply) after delivery
    end_reason: str = ""


CASES = (
    CasePlan(
        "K-DEMO01", "draft", "rosa", "patient", "patient", None, ("I25.10", "I10"),
        (("Do I need a coronary stent, or can medication alone control my symptoms?", ""),
         ("What are the risks of waiting three months?", "")),
        "Percutaneous coronary intervention with a drug-eluting stent", "cardiology", cpt="92928",
        summary="Chest tightness on exertion for four months; CT angiography shows a 70% LAD narrowing.",
    ),
    CasePlan(
        "K-DEMO02", "submitted", "kenji", "clinician", "clinician", "hospital", ("I20.9", "I25.10"),
        (("Is bypass surgery better than stenting for my father's arteries?", ""),),
        "Coronary artery bypass grafting", "interventional_cardiology", cpt="33533",
        summary="Angina at rest twice this month; two-vessel disease on catheterization.",
    ),
    CasePlan(
        "K-DEMO03", "offered", "linh", "coordinator", "payer", "payer", ("C50.911",),
        (("Is a mastectomy necessary, or is breast-conserving surgery an option?", ""),
         ("Should I have chemotherapy before surgery?", "")),
        "Right mastectomy followed by adjuvant chemotherapy", "breast_oncology", cpt="19303",
        urgency="urgent", summary="2.4 cm invasive ductal carcinoma, ER+/HER2-, one suspicious lymph node.",
        declined_first=True, end_reason="At capacity this month; please offer to a colleague.",
        panel="breast_cancer",
    ),
    CasePlan(
        "K-DEMO04", "offered", "omar", "clinician", "clinician", "hospital", ("I48.91",),
        (("Should I have a catheter ablation or keep taking medication?", ""),),
        "Catheter ablation of atrial fibrillation", "cardiology", cpt="93656", specialist="specialist",
        triage_reason="General cardiology review first; electrophysiology if ablation is favoured.",
        summary="Paroxysmal atrial fibrillation, two emergency visits this year despite beta-blockers.",
    ),
    CasePlan(
        "K-DEMO05", "accepted", "mei", "coordinator", "employer", "employer", ("M54.16",),
        (("Will spinal fusion relieve my leg pain?", ""), ("Are there non-surgical options left?", "")),
        "L4-L5 spinal fusion", "spine_surgery", cpt="22612", delivery="video",
        summary="Left leg pain for 9 months; MRI shows L4-L5 disc herniation; physical therapy did not help.",
    ),
    CasePlan(
        "K-DEMO06", "in_review", "rosa", "patient", "employer", "employer", ("I35.0",),
        (("Is valve replacement through a catheter (TAVR) right for me?", ""),),
        "Transcatheter aortic valve replacement", "cardiology", cpt="33361", specialist="specialist",
        summary="Moderate-to-severe aortic stenosis on echocardiogram; short of breath climbing stairs.",
        attachment="echocardiogram-report.txt", records=True,
        opinion={"diagnosis_verdict": "confirmed", "narrative": "Draft: reviewing the echocardiogram."},
    ),
    CasePlan(
        "K-DEMO07", "info_requested", "rosa", "patient", "patient", None, ("R07.9", "I10"),
        (("Is my chest pain coming from my heart?", ""),),
        "Coronary angiography", "cardiology", cpt="93454", specialist="specialist",
        summary="Intermittent chest pain at rest; normal ECG; blood pressure 150/95 on two medications.",
        end_reason="Please upload your most recent stress test and list the medications you take.",
    ),
    CasePlan(
        "K-DEMO08", "opinion_drafted", "sam", "clinician", "clinician", "hospital", ("K50.90",),
        (("Should he start a biologic now or try another course of steroids?", "Start a biologic now."),),
        "Another course of oral prednisone", "gastroenterology",
        summary="Crohn's disease with three flares in a year; steroid dependent.",
        opinion={"diagnosis_verdict": "confirmed", "treatment_verdict": "alternative",
                 "treatment_recommendation": "Start an anti-TNF biologic; avoid repeated steroid courses.",
                 "further_tests": "Fecal calprotectin; MR enterography.", "confidence": "high",
                 "narrative": "Steroid-dependent Crohn's disease meets the criteria for biologic therapy."},
    ),
    CasePlan(
        "K-DEMO09", "signed", "aiko", "coordinator", "payer", "payer", ("C34.11",),
        (("Is surgery possible, or only radiation?", "Surgery (lobectomy) is possible and preferred."),),
        "Stereotactic body radiation therapy", "pulmonology", urgency="urgent",
        summary="2.1 cm right upper lobe adenocarcinoma, no nodal disease on PET-CT; FEV1 78%.",
        opinion={"diagnosis_verdict": "confirmed", "treatment_verdict": "alternative",
                 "treatment_recommendation": "Refer for lobectomy; lung function allows surgery.",
                 "further_tests": "Brain MRI before surgery.", "confidence": "high",
                 "narrative": "Stage IA lung cancer in a patient fit for surgery: lobectomy is standard."},
    ),
    CasePlan(
        "K-DEMO10", "delivered", "rosa", "patient", "payer", "payer", ("M17.11",),
        (("Do I need a total knee replacement now?", "Not yet: a structured exercise program first."),
         ("How long would recovery take?", "About three months to return to normal activities.")),
        "Total right knee arthroplasty", "orthopedic_surgery", cpt="27447", delivery="video",
        summary="Right knee pain for two years; X-ray shows moderate arthritis; no physical therapy yet.",
        attachment="knee-xray-report.txt",
        opinion={"diagnosis_verdict": "confirmed", "treatment_verdict": "modify",
                 "treatment_recommendation": "Twelve weeks of physical therapy and weight management first.",
                 "further_tests": "Standing knee X-rays in six months.", "confidence": "moderate",
                 "narrative": "Moderate osteoarthritis without a trial of conservative care."},
        amendment="Added the follow-up imaging interval.",
    ),
    CasePlan(
        "K-DEMO11", "closed", "rosa", "patient", "employer", "employer", ("G43.909",),
        (("Are my migraines a sign of something serious?", "No: the pattern and the normal MRI reassure."),),
        "Daily topiramate", "neurology",
        summary="Migraines twice a week for a year; normal brain MRI.",
        opinion={"diagnosis_verdict": "confirmed", "treatment_verdict": "agree",
                 "further_tests": "", "confidence": "high",
                 "narrative": "Episodic migraine; preventive therapy is appropriate."},
        follow_up=("Can I take topiramate while breastfeeding?", "Please discuss it with your obstetrician; "
                   "a different preventive may be preferred while breastfeeding."),
    ),
    CasePlan(
        "K-DEMO12", "cancelled", "tom", "clinician", "clinician", "hospital", ("N18.4",),
        (("Is it time to prepare for dialysis?", ""),),
        "Arteriovenous fistula placement", "nephrology",
        summary="Stage 4 chronic kidney disease, eGFR 22.",
        end_reason="Duplicate referral: the patient is already under review in another program.",
    ),
    CasePlan(
        "K-DEMO13", "withdrawn", "grace", "clinician", "clinician", "hospital", ("M05.79",),
        (("Should she switch to a biologic?", ""),),
        "Switch from methotrexate to a biologic", "rheumatology",
        summary="Seropositive rheumatoid arthritis with active disease on methotrexate.",
        end_reason="The patient decided to continue with her local rheumatologist.",
    ),
    CasePlan(
        "K-DEMO14", "triaged", "ivan", "coordinator", "payer", "payer", ("J84.10",),
        (("Is this idiopathic pulmonary fibrosis, and should I start antifibrotic medication?", ""),),
        "Antifibrotic therapy", "pulmonology", urgency="urgent",
        summary="Progressive shortness of breath; CT shows basal reticulation.",
    ),
)

PATH = ("submitted", "triaged", "offered", "accepted", "in_review", "opinion_drafted", "signed", "delivered",
        "closed")


def route(status: str) -> list[str]:
    """The statuses a demo case passes through to reach `status`, in order."""
    if status == "draft":
        return []
    if status == "cancelled":
        return ["submitted", "cancelled"]
    if status == "withdrawn":
        return ["submitted", "triaged", "withdrawn"]
    if status == "info_requested":
        return [*PATH[: PATH.index("in_review") + 1], "info_requested"]
    return list(PATH[: PATH.index(status) + 1])
