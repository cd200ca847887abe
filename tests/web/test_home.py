"""The home page: what happens next on each case, who acts, by when, and the one action the person wants."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from konsil.accounts.roles import Role
from konsil.core.views import next_step

from ..factories import make_user
from .conftest import url


def test_patient_home_says_what_happens_next(client, patient_user, walker, draft_case):
    case = walker.walk_to(draft_case, "in_review")
    client.force_login(patient_user)
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "What happens next" in body and case.reference in body
    assert "The specialist is reviewing your records." in body
    assert "Opinion expected by" in body
    # the expected date is the review deadline, in the locale's date format
    from django.utils import formats
    assert formats.date_format(timezone.localtime(case.review_due_at), "DATE_FORMAT") in body


def test_a_referring_clinician_s_home_speaks_of_the_patient(client, login, network, walker):
    """The cases a clinician referred are their patients': no "where you live" or "your records"."""
    from ..factories import make_draft

    clinician = make_user(Role.REFERRING_CLINICIAN, network)
    case = make_draft(network, clinician)
    case.patient.user = None
    case.patient.save()
    case = walker.walk_to(case, "in_review")
    login(client, clinician)
    body = client.get("/").content.decode()
    assert case.reference in body and "The specialist is reviewing the patient&#x27;s records." in body
    assert "your records" not in body and "Follow the case" in body
    page = client.get(url("cases:detail", pk=case.pk)).content.decode()
    step = page[page.index('id="next-step"'):]
    step = step[:step.index("</section>")]
    assert "The specialist is reviewing the patient&#x27;s records." in step and "your records" not in step


def test_delivered_case_offers_read_the_report_not_withdraw(client, patient_user, walker, draft_case):
    case = walker.walk_to(draft_case, "delivered")
    client.force_login(patient_user)
    body = client.get("/").content.decode()
    report = reverse("opinions:report", kwargs={"pk": case.pk})
    assert f'class="button primary" href="{report}"' in body
    assert "Read the report" in body and "Withdraw" not in body


def test_draft_asks_to_continue(client, patient_user, draft_case):
    client.force_login(patient_user)
    body = client.get("/").content.decode()
    assert "Continue your request" in body
    assert url("cases:intake", pk=draft_case.pk, step=draft_case.wizard_step or 1) in body


def test_next_step_for_every_status(walker, draft_case):
    """Each reachable status has words, someone who acts and an action; open ones have an expected date."""
    case = draft_case
    for status in ["submitted", "triaged", "offered", "accepted", "in_review", "opinion_drafted", "signed",
                   "delivered", "closed"]:
        case = walker.walk_to(case, status)
        step = next_step(case)
        assert step.status_text and step.next_text and step.who and step.action_url, status
        if status not in ("delivered", "closed"):
            assert step.expected is not None and step.expected >= timezone.now() - dt.timedelta(seconds=5), status
    assert next_step(case).done


def test_empty_home_invites_to_start(client, network):
    user = make_user(Role.PATIENT, network)
    client.force_login(user)
    body = client.get("/").content.decode()
    assert "No open requests" in body and reverse("cases:new") in body


def test_the_greeting_uses_a_name_never_the_email_address(client, network):
    """A patient who signed up with an e-mail address only (names come with the first case) is welcomed, not
    greeted by their address; with a name, by the name."""
    user = make_user(Role.PATIENT, network, email="lucia.fernandez.a.very.long.address@example.org",
                     first_name="", last_name="")
    client.force_login(user)
    heading = client.get("/").content.decode().split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert heading == "Welcome to Konsil"
    user.first_name = "Lucía"
    user.save(update_fields=["first_name"])
    heading = client.get("/").content.decode().split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert heading == "Hello, Lucía"


def test_home_is_audited_per_case_shown(client, patient_user, walker, draft_case):
    from konsil.audit.models import AuditEvent

    walker.walk_to(draft_case, "submitted")
    client.force_login(patient_user)
    client.get("/")
    assert AuditEvent.objects.filter(action="case.list", actor=patient_user, object_id=str(draft_case.pk)).exists()


def test_other_patients_cases_never_show(client, patient_user, other_case):
    client.force_login(patient_user)
    assert other_case.reference not in client.get("/").content.decode()


def test_roles_are_sent_to_their_work(client, login, coordinator, specialist, auditor, network):
    login(client, coordinator)
    assert client.get("/").url == reverse("cases:queue")
    login(client, specialist.user)
    assert client.get("/").url == reverse("opinions:workspace")
    login(client, auditor)
    assert client.get("/").url == reverse("audit:trail")
    admin = make_user(Role.ORG_ADMIN, network)
    login(client, admin)
    assert client.get("/").url == reverse("accounts:manage_users")


def test_anonymous_goes_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302 and reverse("accounts:login") in response.url


def test_my_cases_list_shows_next_step_and_the_primary_action(client, patient_user, walker, draft_case):
    case = walker.walk_to(draft_case, "delivered")
    client.force_login(patient_user)
    body = client.get(url("cases:mine")).content.decode()
    report = reverse("opinions:report", kwargs={"pk": case.pk})
    assert "Your second opinion is ready to read." in body
    assert f'class="button small primary" href="{report}"' in body


def test_day_filter_is_the_locale_date_format():
    from django.utils import translation

    from konsil.core.templatetags.konsil_ui import day

    when = dt.date(2026, 12, 3)
    with translation.override("en"):
        assert day(when) == "Dec. 3, 2026"
    with translation.override("es"):
        assert day(when) == "3 de diciembre de 2026"
    with translation.override("ja"):
        assert day(when) == "2026年12月3日"
    assert day(None) == ""


def test_icon_tag_inlines_decorative_svg_and_ignores_unknown_names():
    from konsil.core.templatetags.konsil_ui import icon

    svg = icon("bell")
    assert svg.startswith("<svg") and 'aria-hidden="true"' in svg and 'focusable="false"' in svg
    assert 'role="img" aria-label="Alerts"' in icon("bell", label="Alerts")
    assert icon("../../etc/passwd") == "" and icon("no-such-icon") == ""


def test_withdraw_is_folded_away_on_the_case_page(client, patient_user, walker, draft_case):
    case = walker.walk_to(draft_case, "submitted")
    client.force_login(patient_user)
    body = client.get(url("cases:detail", pk=case.pk)).content.decode()
    assert 'id="action-withdraw"' in body
    fold = body[:body.index('id="action-withdraw"')]
    assert fold.rindex('<details class="other-action"') > fold.rfind("</details>")


def test_case_page_tells_the_patient_what_happens_next_while_offered(client, patient_user, coordinator, walker,
                                                                     draft_case):
    """An offered case's page is not only "Withdraw": it says who acts next and by when."""
    case = walker.walk_to(draft_case, "offered")
    client.force_login(patient_user)
    body = client.get(reverse("cases:detail", kwargs={"pk": case.pk})).content.decode()
    assert 'id="next-step"' in body and "A specialist is deciding whether to take your case." in body
    assert "Opinion expected by" in body
    client.force_login(coordinator)
    assert 'id="next-step"' not in client.get(reverse("cases:detail", kwargs={"pk": case.pk})).content.decode()


def test_case_page_asks_the_patient_to_answer_when_information_is_requested(client, patient_user, walker,
                                                                          draft_case):
    case = walker.walk_to(draft_case, "info_requested")
    client.force_login(patient_user)
    body = client.get(reverse("cases:detail", kwargs={"pk": case.pk})).content.decode()
    assert "Answer the specialist" in body
    assert f'{reverse("cases:detail", kwargs={"pk": case.pk})}#action-provide_info' in body  # the form that answers
    assert 'id="action-provide_info"' in body
    assert 'id="answer-hint"' in body  # the messages box says a message alone does not answer
    from konsil.cases.services import transition

    provided = transition(actor=patient_user, case=case, action="provide_info", message="The echo is attached.")
    assert 'id="answer-hint"' not in client.get(reverse("cases:detail", kwargs={"pk": provided.pk})).content.decode()


def test_a_closed_case_asks_nothing_more_of_the_patient(client, patient_user, walker, draft_case):
    walker.walk_to(draft_case, "closed")
    client.force_login(patient_user)
    body = client.get(url("cases:mine")).content.decode()
    assert "Your case is closed. Your report stays here to read." in body
    assert "Your second opinion is ready to read." not in body
