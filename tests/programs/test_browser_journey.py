"""Issue 14's journey in headless Chromium on the demo data: an employee finds the program page, checks
eligibility and starts a case; a payer's care manager refers a mandated spine review; the member accepts; the
specialist accepts the offer, writes, signs and delivers an opinion against surgery in the browser; the payer sees
the determination (and not the narrative) until the member lets the plan read the report; the month's
invoice and the 837P claim are produced and the claim passes pyx12's validation."""

from __future__ import annotations

import pytest
from django.utils import timezone

from ..browser.test_issue9_journey import context_for, sign_in
from ..browser.test_journey import CHROMIUM, browser  # noqa: F401 - the browser fixture
from ..factories import valid_npi

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]


def new_patient(email: str):
    from konsil.accounts.models import Membership, Organization, User
    from konsil.accounts.roles import Role
    from konsil.demo import PASSWORD

    user = User.objects.create_user(email, PASSWORD)
    Membership.objects.create(user=user, organization=Organization.objects.get(slug="konsil-network"),
                              role=Role.PATIENT)
    return user


@pytest.mark.django_db(transaction=True)
def test_issue14_journey(browser, live_server):  # noqa: F811
    from konsil import demo
    from konsil.cases.services import sign_consent, transition
    from konsil.programs import x12
    from konsil.programs.demo import _state_for
    from konsil.programs.models import Mandate, Member, Program

    demo.seed_demo()
    base = live_server.url
    employer = Program.objects.get(slug="acme-benefit")
    payer = Program.objects.get(slug="evergreen-mandates")
    employee = Member.objects.filter(program=employer, relationship="subscriber", coverage_end=None
                                     ).order_by("-member_id").first()

    # 1. The employee finds the program page, checks eligibility, signs in and starts a case.
    page = context_for(browser, base)
    page.goto("/programs/p/acme-benefit/")
    assert "Acme Second Opinion Benefit" in page.inner_text("h1")
    page.fill("input[name=member_id]", employee.member_id)
    page.fill("input[name=family_name]", employee.family_name)
    page.fill("input[name=birth_date]", employee.birth_date.isoformat())
    page.click("button[value=check]")
    assert "You are eligible" in page.inner_text("#eligibility-result")
    new_patient("employee@example.test")
    page = sign_in(browser, base, "employee@example.test", demo.PASSWORD)
    page.goto("/programs/p/acme-benefit/")
    page.fill("input[name=member_id]", employee.member_id)
    page.fill("input[name=family_name]", employee.family_name.upper())
    page.fill("input[name=birth_date]", employee.birth_date.isoformat())
    page.fill("input[name=given_name]", employee.given_name)
    page.select_option("select[name=sex]", "female")
    page.select_option("select[name=state]", "TX")
    page.click("button[value=start]")
    page.wait_for_load_state()
    assert "/intake/1/" in page.url, page.inner_text("main")
    enrollment = employer.enrollments.get(case__requester__email="employee@example.test")
    assert enrollment.eligible and enrollment.case.channel == "employer"

    # 2. The payer's care manager refers a mandated spine review.
    payer_page = sign_in(browser, base, f"payer@{demo.DOMAIN}", demo.PASSWORD)
    payer_page.goto("/programs/")
    payer_page.click(f"text={payer.name}")
    payer_page.click("text=Refer a mandated review")
    payer_page.fill("input[name=member_id]", "EVG1004")
    payer_page.fill("input[name=requesting_npi]", valid_npi(8))
    payer_page.fill("input[name=cpt]", "22630")
    payer_page.fill("textarea[name=procedure_text]", "L4-L5 posterior lumbar interbody fusion")
    payer_page.fill("input[name=diagnoses]", "M48.062")
    payer_page.click("main form button[type=submit]")
    payer_page.wait_for_load_state()
    assert "/reviews/" in payer_page.url and "new" not in payer_page.url, payer_page.inner_text("main")
    mandate = Mandate.objects.get(member__member_id="EVG1004", cpt="22630")
    assert mandate.deadline == timezone.localdate() + timezone.timedelta(days=14)
    invite = payer_page.get_attribute("a[href*='/programs/invite/']", "href")

    # 3. The member accepts the invitation; the case runs; the specialist recommends against surgery.
    member = new_patient("spine.member@example.test")
    spine_state, _ = _state_for("spine_surgery")
    page = sign_in(browser, base, "spine.member@example.test", demo.PASSWORD)
    page.goto(invite)
    page.fill("input[name=family_name]", "Serrano")
    page.fill("input[name=birth_date]", "1985-11-30")
    page.select_option("select[name=state]", spine_state)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "/intake/1/" in page.url, page.inner_text("main")
    mandate.refresh_from_db()
    case = mandate.case
    sign_consent(actor=member, case=case, scope=["obtain_records", "share_with_reviewers", "share_report"],
                 signer_name="Paula Serrano")
    case.questions.create(position=0, text="Do I need the fusion?")
    from konsil.accounts.models import User

    coordinator = User.objects.get(email=f"coordinator@{demo.DOMAIN}")
    case = transition(actor=member, case=case, action="submit")
    case.refresh_from_db()  # auto-routing (on in the demo network) may already have triaged and offered it
    if case.status == "submitted":
        case = transition(actor=coordinator, case=case, action="triage", specialty="spine_surgery",
                          urgency="routine")
    if case.status == "triaged":
        from konsil.cases import offers

        specialist = [r.specialist for r in offers.ranked_for_offer(case)][0]
        case = transition(actor=coordinator, case=case, action="offer", specialist=str(specialist.pk),
                          reason="journey")
    specialist = case.offers.get(status="pending").specialist

    # The specialist accepts the offer, starts the review, writes and signs the opinion and delivers it, in the
    # browser (as in tests/browser/test_journey.py).
    narrative = "Unique narrative words the payer must never read"
    spec = sign_in(browser, base, specialist.user.email, demo.PASSWORD)
    spec.goto("/specialist/")
    spec.click(f"form[action*='/specialist/offers/{case.pk}/accept/'] button[type=submit]")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "accepted", spec.inner_text("main")
    spec.goto(f"/specialist/cases/{case.pk}/review/")
    spec.click("button[value=start_review]")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "in_review", spec.inner_text("main")
    spec.check("input[name=diagnosis_verdict][value=confirmed]")
    spec.check("input[name=treatment_verdict][value=against]")
    spec.fill("textarea[name=treatment_recommendation]", "Physical therapy and weight loss; no fusion now.")
    spec.locator("textarea[name^=answer_]").first.fill("No: the fusion is not needed now.")
    spec.fill("textarea[name=further_tests]", "Flexion-extension radiographs in 6 months.")
    spec.fill("textarea[name=narrative]", narrative)
    spec.check("input[name=confidence][value=high]")
    spec.click("button[value=complete_draft]")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "opinion_drafted", spec.inner_text("main")
    spec.fill("input[name=signing_secret]", demo.PASSWORD)  # the signature asks who signs (21 CFR 11.200)
    spec.click("button[value=sign]")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "signed", spec.inner_text("main")
    spec.click("button[value=deliver]")
    spec.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "delivered", spec.inner_text("main")
    assert case.opinions.get(signed_at__isnull=False).treatment_verdict == "against"

    # 4. The payer sees the determination, not the narrative.
    payer_page.goto(f"/programs/{payer.pk}/reviews/")
    payer_page.click("text=EVG1004")
    determination = payer_page.inner_text("#determination")
    assert "Recommend against" in determination
    assert narrative not in payer_page.content()
    report = f"/programs/{payer.pk}/reviews/{mandate.pk}/report/"
    assert payer_page.request.get(base + report).status == 403  # the member has not agreed

    # The member lets the plan read the report on the case's program page; the payer then reads it.
    page.goto(f"/programs/cases/{case.pk}/")
    page.check("input[name=share-share_with_payer][value=yes]")
    page.click("#share button[type=submit]")
    page.wait_for_load_state()
    assert "may now read the full report" in page.inner_text(".messages")
    payer_page.goto(f"/programs/{payer.pk}/reviews/{mandate.pk}/")
    payer_page.click("text=Read the full report")
    payer_page.wait_for_load_state()
    assert narrative in payer_page.inner_text("main")

    # 5. The month's invoice and the 837P claim.
    coord = sign_in(browser, base, f"coordinator@{demo.DOMAIN}", demo.PASSWORD)
    coord.goto(f"/programs/{payer.pk}/billing/")
    today = timezone.localdate()
    coord.fill("input[name=period_start]", today.replace(day=1).isoformat())
    coord.fill("input[name=period_end]", today.isoformat())
    coord.click("text=Issue invoice")
    coord.wait_for_load_state()
    assert "issued" in coord.inner_text(".messages")
    pdf = coord.request.get(base + coord.get_attribute("a:text('PDF')", "href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    coord.click(f"li:has-text('{case.reference}') button")
    coord.wait_for_load_state()
    claim = coord.request.get(base + coord.get_attribute("a:text('837P')", "href"))
    assert claim.ok and x12.validate(claim.text(), expect="837").valid
