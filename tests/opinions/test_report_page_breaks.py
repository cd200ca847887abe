"""The report PDF keeps every heading with what follows it: none is left alone at the foot of a page."""

import pytest
import weasyprint
from django.template.loader import render_to_string

from konsil.opinions import report

pytestmark = pytest.mark.slow

FILLER = "A line of the plain summary that moves the rest of the report a little further down."
HEADINGS = ("h1", "h2", "h3", "h4")


def _last_blocks(box, out: list) -> list:
    """The page's blocks in order, a heading, paragraph, list item, term or table row counting as one."""
    tag = getattr(box, "element_tag", None)
    children = getattr(box, "children", None)
    if tag in (*HEADINGS, "p", "li", "dt", "dd", "tr") or not children:
        if tag not in (None, "html", "body"):
            out.append(box)
        return out
    for child in children:
        _last_blocks(child, out)
    return out


def _stranded(document) -> list[tuple[int, str]]:
    """(page, heading) for each heading that ends a page other than the last."""
    found = []
    for number, page in enumerate(document.pages[:-1], start=1):
        blocks = _last_blocks(page._page_box, [])
        if blocks and blocks[-1].element_tag in HEADINGS:
            found.append((number, "".join(getattr(b, "text", "") or "" for b in blocks[-1].descendants())))
    return found


def _sweep(case, lay_out) -> list[tuple[int, int, str]]:
    """The report with 10 to 46 extra summary lines, so that every later heading meets a page foot somewhere."""
    context = report.report_context(case)
    lines = list(context["plain_summary"])
    strands = []
    for pad in range(10, 47, 2):
        context["plain_summary"] = [*lines, *[FILLER] * pad]
        strands += [(pad, page, heading) for page, heading in _stranded(lay_out(context))]
    return strands


def test_no_heading_is_left_at_a_page_foot(case_at):
    assert _sweep(case_at("delivered"), report.layout) == []


def test_the_check_sees_a_stranded_heading(case_at):
    """With the keep-with-next rule overridden, the same sweep strands headings: the check above can fail."""
    def without_keep(context):
        html = render_to_string("opinions/report_print.html", context).replace(
            "</style>", "h1, h2, h3, h4 { break-after: auto !important; }</style>")
        return weasyprint.HTML(string=html, base_url=None).render()

    assert _sweep(case_at("delivered"), without_keep)
