"""The program pages at 360 px and through axe-core (the helper of tests/browser/test_a11y.py): the admin's,
the payer's, the member's and the specialist's pages, including a form with its errors shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from konsil.programs import mandates

from ..browser.test_a11y import CHROMIUM, axe_violations, browser, check, context_for, overflow  # noqa: F401
from .test_mandates import plan_member, referral  # noqa: F401 - plan_member is a fixture
from .test_report_consent import delivered  # noqa: F401 - a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium: browser tests skipped (apt-get install chromium)"),
]


@pytest.mark.django_db(transaction=True)
def test_program_pages_fit_360px_and_pass_axe(  # noqa: F811 - fixtures by name
        browser, live_server, network, network_admin, employer_program, member, billing_profile,  # noqa: F811
        payer_program, payer_admin, delivered, specialist):  # noqa: F811
    user, mandate = delivered
    mandates.set_share(actor=user, mandate=mandate, share=True)
    invited = mandates.refer(actor=payer_admin, program=payer_program, data=referral(cpt="43644"))
    e, p = employer_program.pk, payer_program.pk
    pages = {
        network_admin: [reverse("programs:list"), reverse("programs:new"),
                        reverse("programs:billing_profile", args=[network.pk]),
                        *(reverse(f"programs:{name}", args=[e]) for name in
                          ("detail", "edit", "roster", "reviews", "billing", "dashboard"))],
        payer_admin: [reverse("programs:reviews", args=[p]), reverse("programs:refer", args=[p]),
                      reverse("programs:review", args=[p, mandate.pk]),
                      reverse("programs:shared_report", args=[p, mandate.pk])],
        user: [reverse("programs:case", args=[mandate.case_id]), reverse("programs:public", args=["acme-so"]),
               reverse("programs:mandate_accept", args=[invited.invite_token])],
        specialist.user: [reverse("programs:case", args=[mandate.case_id])],
        None: [reverse("programs:public", args=["acme-so"])],
    }
    problems: list[str] = []
    for who, paths in pages.items():
        context = context_for(browser, live_server, who)
        page = context.new_page()
        for path in paths:
            check(page, path, problems)
        context.close()

    # Forms with their errors: a new program and a billing profile sent empty, a bad eligibility check.
    context = context_for(browser, live_server, network_admin)
    page = context.new_page()
    for path in (reverse("programs:new"), reverse("programs:billing_profile", args=[network.pk])):
        page.goto(path)
        page.fill("input[name=name]", "") if path.endswith("/new/") else page.fill("input[name=npi]", "1")
        page.click("main form button[type=submit].primary")
        page.wait_for_load_state("load")
        assert page.locator(".error-summary").count() == 1, path
        if overflow(page) > 0:
            problems.append(f"{path} with errors: wider than 360 px")
        problems += [f"{path} with errors: axe {v['id']}" for v in axe_violations(page)]
    context.close()
    assert not problems, "\n".join(problems)
