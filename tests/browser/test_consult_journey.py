"""Issue 15 in Chromium: the patient reads the report and books a video consult; patient and specialist meet in
the embedded WebRTC room (two contexts, fake camera and microphone; getStats shows bytes flowing both ways); the
specialist writes notes and amends the opinion; the patient and the treating physician answer the 30-day
follow-up from their e-mailed links (secret in the fragment); the outcome shows on the case page."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time

import pytest

from ..conftest import verified_login

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
PHONE = {"width": 360, "height": 740}
STATS = """async () => { const pc = window.konsilRoom && window.konsilRoom.pc; if (!pc) return [0, 0];
  const stats = await pc.getStats(); let sent = 0, received = 0;
  stats.forEach(s => { if (s.type === 'outbound-rtp') sent += s.bytesSent || 0;
                       if (s.type === 'inbound-rtp') received += s.bytesReceived || 0; });
  return [sent, received]; }"""


@pytest.fixture
def browser(monkeypatch, transactional_db):  # closed before the database is flushed
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def signed_in(browser, live_server, user=None, **options):
    from django.conf import settings
    from django.test import Client

    context = browser.new_context(base_url=live_server.url, **options)
    context.set_default_timeout(30_000)
    context.grant_permissions(["camera", "microphone"], origin=live_server.url)
    if user is not None:
        client = Client()
        verified_login(client, user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def flowing(page, seconds: float = 30) -> tuple[int, int]:
    deadline = time.monotonic() + seconds
    sent = received = 0
    while time.monotonic() < deadline:
        sent, received = page.evaluate(STATS)
        if sent > 20_000 and received > 20_000:
            break
        time.sleep(0.5)
    return sent, received


@pytest.mark.django_db(transaction=True)
def test_consult_and_follow_up_journey(browser, live_server, network, patient_user, coordinator, specialist, walker):
    from django.core import mail
    from django.utils import timezone

    from konsil.consults.models import Consult
    from konsil.opinions.models import Opinion
    from konsil.outcomes import services as followups
    from konsil.outcomes.models import CostEntry, Outcome

    from ..factories import make_draft

    specialist.availability = [{"day": d, "start": "00:00", "end": "23:30"} for d in range(7)]
    specialist.delivery_modes = ["written", "video", "phone"]
    specialist.time_zone = "America/Chicago"
    specialist.save()
    case = walker.walk_to(make_draft(network, patient_user, treating_physician="Dr. Local",
                                     treating_physician_email="local.doctor@example.org", proposed_cpt="92928"),
                          "delivered")
    CostEntry.objects.create(code="92928", description="Coronary stent", amount="15000", source="Test", year=2025)

    # The patient reads the report, then books a video consult in their own time zone.
    patient = signed_in(browser, live_server, patient_user, timezone_id="Europe/Madrid")
    patient.goto(f"/cases/{case.pk}/")
    patient.get_by_role("link", name="Read the report").first.click()
    patient.wait_for_load_state()
    patient.goto(f"/cases/{case.pk}/")
    patient.click("#book-consult")
    patient.wait_for_url(re.compile(r"patient_time_zone=Europe"))  # the page picked the browser's zone
    patient.check("input[name=mode][value=video]")
    patient.locator("select[name=starts_at]").select_option(index=1)
    patient.check("input[name=invite_treating_physician]")
    patient.click("#booking-form button[type=submit]")
    patient.wait_for_url(re.compile(r"/consults/[0-9a-f-]+/$"))
    consult = Consult.objects.get(case=case)
    assert consult.patient_time_zone == "Europe/Madrid" and consult.status == "booked"
    assert any(m.to == ["local.doctor@example.org"] and m.attachments for m in mail.outbox)

    # Time passes: the consult starts now. Both sides join the embedded room.
    now = timezone.now()
    Consult.objects.filter(pk=consult.pk).update(starts_at=now, ends_at=now + dt.timedelta(minutes=30))
    patient.reload()
    patient.click("#join-room")
    doctor = signed_in(browser, live_server, specialist.user)
    doctor.goto(f"/consults/{consult.pk}/room/")
    for page in (patient, doctor):
        page.wait_for_function("() => document.getElementById('room-status').textContent.includes('Connected')")
    for page in (patient, doctor):
        sent, received = flowing(page)
        assert sent > 20_000 and received > 20_000, (sent, received)

    # The specialist leaves, writes notes, and amends the opinion through the existing flow.
    doctor.click("#leave-room")
    doctor.wait_for_url(re.compile(r"/consults/[0-9a-f-]+/$"))
    doctor.fill("textarea[name=body]", "Talked it through; the patient prefers medication first.")
    doctor.check("input[name=opinion_changed]")
    doctor.click("#consult-notes button[type=submit]")
    doctor.wait_for_url(re.compile(r"/review/"))
    doctor.fill("textarea[name=reason]", "After the consult: new information about symptoms.")
    doctor.fill("section.amend input[name=signing_secret]", "correct horse battery")  # who signs (21 CFR 11.200)
    doctor.locator("section.amend button[type=submit]").click()
    doctor.wait_for_url(re.compile(r"/report/"))
    amended = Opinion.objects.get(case=case, version=2)  # the reason is encrypted at rest: read it, not filter
    assert amended.amendment_reason.startswith("After the consult") and amended.signed_at is not None

    # Thirty days later the clock sends the follow-ups; both answer from their links, on a phone.
    mail.outbox.clear()
    followups.plan(case)
    followups.send_due(now=case.delivered_at + dt.timedelta(days=30))
    links = {m.to[0]: re.search(r"(https?://\S+/follow-up/#\S+)", m.body).group(1) for m in mail.outbox}
    physician = signed_in(browser, live_server, viewport=PHONE)
    physician.goto(links["local.doctor@example.org"].replace("http://127.0.0.1:8000", live_server.url))
    physician.wait_for_url(re.compile(r"/follow-up/questions/$"))
    for name, value in (("followed", "yes"), ("diagnosis_changed", "no"), ("plan_changed", "yes"),
                        ("procedure", "avoided"), ("status", "better")):
        physician.check(f"input[name={name}][value={value}]")
    physician.click("#follow-up-form button[type=submit]")
    physician.wait_for_selector("#thanks")
    patient_email = next(address for address in links if address != "local.doctor@example.org")
    phone = signed_in(browser, live_server, viewport=PHONE)
    phone.goto(links[patient_email].replace("http://127.0.0.1:8000", live_server.url))
    phone.wait_for_url(re.compile(r"/follow-up/questions/$"))
    assert "#" not in phone.url
    for name, value in (("followed", "yes"), ("diagnosis_changed", "no"), ("plan_changed", "yes"),
                        ("procedure", "avoided"), ("status", "better"), ("nps", "9")):
        phone.check(f"input[name={name}][value='{value}']")
    phone.click("#follow-up-form button[type=submit]")
    phone.wait_for_selector("#thanks")
    phone.goto(links[patient_email].replace("http://127.0.0.1:8000", live_server.url))  # used twice
    phone.wait_for_selector("#link-error")

    outcome = Outcome.objects.get(case=case)
    assert outcome.plan_changed == "yes" and outcome.procedure_avoided and outcome.nps == 9
    patient.goto(f"/cases/{case.pk}/")
    assert "Avoided" in patient.inner_text("#outcome-procedure")
    assert "15,000" in patient.inner_text("#outcome-cost")
