"""Accessibility and small screens, measured in headless Chromium on the key pages of every demo role.

- No horizontal overflow at 360 px: document.scrollWidth <= the viewport's width.
- axe-core (vendored, tests/browser/vendor/axe.min.js, MPL-2.0): 0 critical and 0 serious violations.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ..conftest import verified_login

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SMALL = {"width": 360, "height": 740}


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def context_for(browser, live_server, user=None):
    """A 360 px wide browser context, signed in as `user` (second factor done) through a session cookie."""
    from django.conf import settings
    from django.test import Client

    context = browser.new_context(base_url=live_server.url, viewport=SMALL, bypass_csp=True)  # to inject axe
    context.set_default_timeout(30_000)
    if user is not None:
        client = Client()
        verified_login(client, user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
    return context


def overflow(page) -> int:
    """How many CSS pixels the document is wider than the viewport (0 when it fits)."""
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - "
                         "document.documentElement.clientWidth")


def wide_elements(page) -> list[str]:
    return page.evaluate("""() => { const w = document.documentElement.clientWidth; const out = [];
      for (const el of document.querySelectorAll('body *')) { const r = el.getBoundingClientRect();
        const inWrap = el.parentElement && el.parentElement.closest('.table-wrap');
        if (r.right > w + 1 && !inWrap) out.push(el.tagName.toLowerCase() +
          (el.id ? '#' + el.id : '') + (el.className && el.className.baseVal === undefined ? '.' +
          String(el.className).split(' ').join('.') : '') + ' ' + Math.round(r.right)); }
      return out.slice(0, 8); }""")


def axe_violations(page) -> list[dict]:
    """Critical and serious axe-core violations on the page as loaded."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => { const r = await axe.run(document, {resultTypes: ['violations']});
      return r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious').map(v => ({id: v.id,
        impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }""")
    return result


def page_in(browser, live_server, user, locale: str):
    """A 360 px page signed in as `user`, whose browser asks for `locale` (the request's Accept-Language);
    confirmation dialogs are accepted."""
    context = context_for(browser, live_server, user)
    context.set_extra_http_headers({"Accept-Language": f"{locale},{locale.split('-')[0]};q=0.9"})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def note_problems(page, problems: list[str], where: str) -> None:
    """Add to `problems` what is wrong with the page as it stands: wider than 360 px, axe violations."""
    page.wait_for_load_state("load")
    if overflow(page) > 0:
        problems.append(f"{where}: wider than 360 px")
    problems.extend(f"{where}: axe {v['impact']} {v['id']} {v['nodes']}" for v in axe_violations(page))


def check(page, path: str, problems: list[str]) -> None:
    response = page.goto(path)
    assert response is not None and response.status < 400, f"{path}: HTTP {response and response.status}"
    page.wait_for_load_state("load")
    extra = overflow(page)
    if extra > 0:
        problems.append(f"{path}: {extra}px wider than 360 px: {wide_elements(page)}")
    for violation in axe_violations(page):
        problems.append(f"{path}: axe {violation['impact']} {violation['id']} ({violation['help']}) "
                        f"at {json.dumps(violation['nodes'])}")


@pytest.fixture
def journey(network, patient_user, coordinator, specialist, walker, draft_case, auditor, payer_admin):
    """Cases in the states the key pages show, and one user per role."""
    from konsil.accounts.roles import Role

    from ..factories import make_draft, make_user

    delivered = walker.walk_to(draft_case, "delivered")
    in_review = walker.walk_to(make_draft(network, patient_user), "in_review")
    offered = walker.walk_to(make_draft(network, patient_user), "offered")
    draft = make_draft(network, patient_user)
    admin = make_user(Role.ORG_ADMIN, network, first_name="Adam", last_name="Admin")
    from konsil.demo import LOGINS

    make_user(Role.CAREGIVER, network, email=LOGINS[1].email, first_name="Carmen")  # the sign-in page lists it
    return {"delivered": delivered, "in_review": in_review, "offered": offered, "draft": draft, "admin": admin,
            "patient": patient_user, "coordinator": coordinator, "specialist": specialist.user,
            "auditor": auditor, "payer": payer_admin}


def key_pages(j) -> dict[str, list[str]]:
    from django.urls import reverse

    def u(name, **kw):
        return reverse(name, kwargs=kw or None)

    return {
        "anonymous": [u("accounts:login"), u("accounts:signup"), u("accounts:password_reset")],
        "patient": ["/", u("cases:mine"), u("cases:detail", pk=j["delivered"].pk),
                    u("cases:detail", pk=j["in_review"].pk), u("opinions:report", pk=j["delivered"].pk),
                    *[u("cases:intake", pk=j["draft"].pk, step=n) for n in range(1, 7)],
                    u("audit:my_access"), u("cases:notifications"), u("accounts:invitations")],
        "coordinator": [u("cases:queue"), u("cases:detail", pk=j["offered"].pk), u("matching:batch"),
                        u("matching:import")],
        "specialist": [u("opinions:workspace"), u("opinions:review", pk=j["in_review"].pk)],
        "auditor": [u("audit:trail")],
        "admin": [u("accounts:manage_users"), u("accounts:manage_user", pk=j["coordinator"].pk),
                  u("accounts:manage_user_new")],
        "payer": [u("cases:program")],
    }


def test_key_pages_fit_360px_and_pass_axe(browser, live_server, journey):
    problems: list[str] = []
    for role, paths in key_pages(journey).items():
        user = None if role == "anonymous" else journey[role]
        context = context_for(browser, live_server, user)
        page = context.new_page()
        for path in paths:
            check(page, path, problems)
        context.close()
    assert not problems, "\n".join(problems)


def test_list_tables_stack_as_labelled_cards_on_a_phone(browser, live_server, journey):
    """At 360 px a list table (the queue, the patient's cases) fits without sideways scrolling: each row is a card
    and each value shows its column's name; on a wide screen the same table is a table."""
    from django.urls import reverse

    measure = """() => { const wrap = document.querySelector('.table-wrap'); const table = wrap.querySelector('table');
      const heads = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
      const row = table.querySelector('tbody tr');
      const labels = [...row.querySelectorAll('td')].map(td =>
        getComputedStyle(td, '::before').content.replace(/^"|"$/g, ''));
      return {fits: wrap.scrollWidth <= wrap.clientWidth, display: getComputedStyle(row).display, heads, labels,
              right: Math.max(...[...row.querySelectorAll('td')].map(td => td.getBoundingClientRect().right)),
              width: document.documentElement.clientWidth}; }"""
    for role, path in (("coordinator", reverse("cases:queue")), ("patient", reverse("cases:mine"))):
        context = context_for(browser, live_server, journey[role])
        page = context.new_page()
        page.goto(path)
        phone = page.evaluate(measure)
        assert phone["fits"] and phone["display"] == "block" and phone["right"] <= phone["width"], (path, phone)
        named = [h for h in phone["heads"] if h not in ("Actions", "Action")]
        assert phone["labels"][: len(named)] == named, (path, phone)
        page.set_viewport_size({"width": 1280, "height": 800})
        wide = page.evaluate(measure)
        assert wide["display"] == "table-row" and set(wide["labels"]) <= {"none"}, (path, wide)
        context.close()
    # A label that wraps ("Estado de residencia" in Spanish) makes its cell taller: it never runs into the next.
    from django.conf import settings

    context = context_for(browser, live_server, journey["coordinator"])
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "es", "url": live_server.url}])
    page = context.new_page()
    page.goto(reverse("cases:queue"))
    heights = page.evaluate("""() => { const row = document.querySelector('table.stacked tbody tr');
      const h = label => row.querySelector(`td[data-label="${label}"]`).getBoundingClientRect().height;
      return {wrapped: h('Estado de residencia'), plain: h('Especialista')}; }""")
    assert heights["wrapped"] >= heights["plain"] + 10, heights
    context.close()


def test_the_report_signature_reads_as_words_on_a_phone(browser, live_server, journey):
    """The signature block of the report is text: on a phone its sentences wrap between words ("whether", not
    "w / hether"); only the link and the hash may break anywhere."""
    from django.urls import reverse

    context = context_for(browser, live_server, journey["patient"])
    page = context.new_page()
    page.goto(reverse("opinions:report", kwargs={"pk": journey["delivered"].pk}))
    style = page.evaluate("""() => { const p = document.querySelector('.verify-text p:nth-of-type(2)')
        || document.querySelector('#signature-h').parentElement.querySelector('dd');
      const s = getComputedStyle(p); return {wordBreak: s.wordBreak, font: s.fontFamily}; }""")
    assert style["wordBreak"] != "break-all" and "monospace" not in style["font"], style
    context.close()
