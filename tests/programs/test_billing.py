"""Invoices (case rates, PMPM) as PDF and CSV, 837P claims validated by pyx12, self-pay payments."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from konsil.accounts.roles import Role
from konsil.core.errors import Conflict, PermissionDenied, ValidationFailed
from konsil.programs import billing, enrolment, payments, x12
from konsil.programs.models import Enrollment

from ..factories import make_user
from .conftest import add_member


def delivered_case(program, network, walker, member, service="written", self_pay=False):
    user = make_user(Role.PATIENT, network)
    data = {"member_id": member.member_id, "birth_date": member.birth_date.isoformat(),
            "family_name": member.family_name, "given_name": member.given_name, "sex": "female", "state": "CA",
            "service": service, "self_pay": "on" if self_pay else ""}
    enrollment = enrolment.start_case(actor=user, program=program, data=data)
    case = enrollment.case
    from konsil.cases.services import sign_consent, update_case

    update_case(actor=user, case=case, data={"diagnosis_text": "Chest pain", "questions": ["Stent?"],
                                             "diagnoses": ["I25.10"]})
    sign_consent(actor=user, case=case, scope=["obtain_records", "share_with_reviewers", "share_report"],
                 signer_name="Jane Doe")
    walker.walk_to(case, "delivered")
    return Enrollment.objects.select_related("case").get(pk=enrollment.pk)


def month():
    today = timezone.localdate()
    return {"period_start": today.replace(day=1).isoformat(), "period_end": today.isoformat()}


def test_case_rate_invoice_pdf_and_csv(employer_program, member, network, walker, coordinator):
    enrollment = delivered_case(employer_program, network, walker, member)
    invoice = billing.issue_invoice(actor=coordinator, program=employer_program, data=month())
    line = invoice.lines.get()
    assert (line.case_reference, line.service, line.amount_cents) == (enrollment.case.reference, "written", 75000)
    assert invoice.total_cents == 75000
    text = billing.invoice_csv(invoice)
    assert enrollment.case.reference in text and "750.00" in text and "Doe" not in text
    assert billing.invoice_pdf(invoice).startswith(b"%PDF")
    with pytest.raises(Conflict):
        billing.issue_invoice(actor=coordinator, program=employer_program, data=month())
    billing.void_invoice(actor=coordinator, invoice=invoice)
    assert billing.issue_invoice(actor=coordinator, program=employer_program, data=month()).total_cents == 75000


def test_no_day_is_invoiced_twice(employer_program, member, network, walker, coordinator):
    """An invoice whose period overlaps another's is refused (the cases in the overlap would be billed twice)."""
    from konsil.programs.models import Invoice

    delivered_case(employer_program, network, walker, member)
    today = timezone.localdate()
    first = billing.issue_invoice(actor=coordinator, program=employer_program,
                                  data={"period_start": today.replace(day=1).isoformat(),
                                        "period_end": today.isoformat()})
    earlier = (today.replace(day=1) - dt.timedelta(days=10)).isoformat()
    with pytest.raises(Conflict) as exc:
        billing.issue_invoice(actor=coordinator, program=employer_program,
                              data={"period_start": earlier, "period_end": today.isoformat()})
    assert exc.value.code == "overlap" and first.number in exc.value.message
    assert Invoice.objects.filter(program=employer_program).count() == 1
    billing.void_invoice(actor=coordinator, invoice=first)
    again = billing.issue_invoice(actor=coordinator, program=employer_program,
                                  data={"period_start": earlier, "period_end": today.isoformat()})
    assert again.total_cents == first.total_cents


def test_pmpm_invoice_counts_covered_lives_per_month(employer_program, coordinator):
    employer_program.pricing, employer_program.pmpm_cents = "pmpm", 150
    employer_program.save()
    start = dt.date(2026, 1, 1)
    add_member(employer_program, "A", coverage_start=start)
    add_member(employer_program, "B", coverage_start=start, coverage_end=dt.date(2026, 1, 31))
    add_member(employer_program, "C", coverage_start=dt.date(2026, 2, 15))
    invoice = billing.issue_invoice(actor=coordinator, program=employer_program,
                                    data={"period_start": "2026-01-01", "period_end": "2026-02-28"})
    assert [(line.quantity, line.amount_cents) for line in invoice.lines.all()] == [(2, 300), (2, 300)]
    assert invoice.total_cents == 600


@pytest.mark.parametrize("data, field", [
    ({"period_start": "2026-02-01", "period_end": "2026-01-01"}, "period_end"),
    ({"period_start": "2026-01-01", "period_end": "2027-06-01"}, "period_end"),
    ({"period_start": "x", "period_end": ""}, "period_start"),
])
def test_bad_periods(employer_program, coordinator, data, field):
    with pytest.raises(ValidationFailed) as exc:
        billing.issue_invoice(actor=coordinator, program=employer_program, data=data)
    assert field in exc.value.as_dict()["errors"]


def test_sponsor_admins_read_but_do_not_issue(employer_program, employer_admin):
    with pytest.raises(PermissionDenied):
        billing.issue_invoice(actor=employer_admin, program=employer_program, data=month())


def test_837p_claim_is_valid_x12(payer_program, network, walker, coordinator, billing_profile, payer_admin):
    member = add_member(payer_program, "P1", family_name="Roe")
    enrollment = delivered_case(payer_program, network, walker, member)
    claim = billing.make_claim(actor=coordinator, enrollment=enrollment)
    assert x12.validate(claim.x12, expect="837").valid
    assert "SV1*HC:99451*600*UN*1***1" in claim.x12 and "ABK:I25110" in claim.x12  # the opinion's diagnosis first
    assert "NM1*IL*1*ROE*JANE****MI*P1" in claim.x12 and "CLM*" + enrollment.case.reference in claim.x12
    assert billing.make_claim(actor=coordinator, enrollment=enrollment) == claim  # one claim per service
    assert billing.read_claim(actor=payer_admin, claim=claim) == claim.x12
    assert billing.read_claim(actor=coordinator, claim=claim) == claim.x12


def test_837p_for_a_dependant_and_a_video_consult(payer_program, network, walker, coordinator, billing_profile):
    payer_program.services = ["written", "video"]
    payer_program.case_rates = {"written": 60000, "video": 80000}
    payer_program.save()
    add_member(payer_program, "P1", family_name="Roe")
    child = add_member(payer_program, "P1-01", subscriber_id="P1", relationship="child", given_name="Kid",
                       family_name="Roe", birth_date=dt.date(2012, 1, 1), address="")
    enrollment = delivered_case(payer_program, network, walker, child, service="video")
    claim = billing.make_claim(actor=coordinator, enrollment=enrollment)
    assert x12.validate(claim.x12, expect="837").valid
    assert "HL*3*2*23*0" in claim.x12 and "PAT*19" in claim.x12 and "SV1*HC:99243:95*800" in claim.x12


def test_claims_are_refused_clearly(payer_program, network, walker, coordinator, billing_profile):
    member = add_member(payer_program, "P1", family_name="Roe", address="")
    enrollment = delivered_case(payer_program, network, walker, member)
    with pytest.raises(Conflict) as exc:
        billing.make_claim(actor=coordinator, enrollment=enrollment)
    assert exc.value.code == "no_address"
    billing_profile.delete()
    with pytest.raises(Conflict) as exc:
        billing.make_claim(actor=coordinator, enrollment=enrollment)
    assert exc.value.code == "no_profile"


def test_self_pay_payment_recorded_by_a_coordinator(employer_program, network, walker, coordinator):
    stranger = add_member(employer_program, "S1", coverage_end=timezone.localdate() - dt.timedelta(days=3))
    enrollment = delivered_case(employer_program, network, walker, stranger, self_pay=True)
    assert enrollment.self_pay and payments.balance_cents(enrollment) == 45000
    with pytest.raises(ValidationFailed) as exc:
        payments.record_payment(actor=coordinator, enrollment=enrollment, data={"amount": "450", "reference": ""})
    assert "reference" in exc.value.as_dict()["errors"]
    for bad in ("-5", "abc", "1e400", "nan"):
        with pytest.raises(ValidationFailed):
            payments.record_payment(actor=coordinator, enrollment=enrollment, data={"amount": bad, "reference": "R"})
    payments.record_payment(actor=coordinator, enrollment=enrollment, data={"amount": "450.00", "reference": "R-1"})
    assert payments.balance_cents(enrollment) == 0
    with pytest.raises(PermissionDenied):
        payments.record_payment(actor=enrollment.case.requester, enrollment=enrollment,
                                data={"amount": "1", "reference": "x"})


def test_a_refused_claim_on_the_billing_page_says_why_and_leaves_the_invoice_form_alone(
        client, login, payer_program, network, walker, network_admin, billing_profile):
    from django.urls import reverse

    member = add_member(payer_program, "P1", family_name="Roe", address="")
    enrollment = delivered_case(payer_program, network, walker, member)
    login(client, network_admin)
    page = client.post(reverse("programs:billing", kwargs={"pk": payer_program.pk}),
                       {"enrollment": str(enrollment.pk)})
    body = page.content.decode()
    assert page.status_code == 409 and "address" in body.lower()
    assert "This field is required" not in body  # the invoice form was not part of that post


def test_a_program_priced_per_claim_says_its_invoice_is_a_statement_and_lists_the_newest_claim_first(
        client, login, payer_program, network, walker, network_admin, coordinator, billing_profile):
    from django.urls import reverse

    payer_program.pricing = "claim"
    payer_program.save()
    first = delivered_case(payer_program, network, walker, add_member(payer_program, "P1", family_name="Roe"))
    second = delivered_case(payer_program, network, walker, add_member(payer_program, "P2", family_name="Poe"))
    login(client, network_admin)
    url = reverse("programs:billing", kwargs={"pk": payer_program.pk})
    body = client.get(url).content.decode()
    assert 'id="by-claim"' in body and "not a second bill" in body and 'id="issue-h"' in body
    for enrollment in (first, second):
        client.post(url, {"enrollment": str(enrollment.pk)})
    body = client.get(url).content.decode()
    # the claim just made comes first, in a table that stacks on a phone
    assert body.index(second.case.reference) < body.index(first.case.reference)
    assert 'data-label="Control number"' in body
    invoice = billing.issue_invoice(actor=coordinator, program=payer_program, data=month())  # the statement
    assert invoice.lines.count() == 2


def test_a_case_without_a_roster_member_is_not_offered_a_claim(
        client, login, payer_program, network, walker, network_admin, billing_profile):
    from django.urls import reverse

    member = add_member(payer_program, "P1", family_name="Roe")
    orphan = delivered_case(payer_program, network, walker, member)
    claimable = delivered_case(payer_program, network, walker, add_member(payer_program, "P2", family_name="Poe"))
    Enrollment.objects.filter(pk=orphan.pk).update(member=None)  # e.g. history from before the roster
    login(client, network_admin)
    body = client.get(reverse("programs:billing", kwargs={"pk": payer_program.pk})).content.decode()
    listed = body.split('id="to-claim-h"')[1]
    assert "1 case has no member on the roster" in listed
    mine = listed.split(orphan.case.reference)[1].split("</li>")[0]
    assert "no member on the roster" in mine and "Make the claim" not in mine
    assert listed.index(claimable.case.reference) < listed.index(orphan.case.reference)  # claimable first
