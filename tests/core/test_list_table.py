"""{% listtable %}: the list pages' one table wrapper (caption, scope="col" headers, hidden action column, the
empty part)."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.template import Context, RequestContext, Template, TemplateSyntaxError
from django.test import RequestFactory
from django.utils import translation

LOAD = "{% load i18n konsil_ui %}"


def _render(source: str, **context) -> str:
    return Template(LOAD + source).render(Context(context))


def test_rows_render_inside_the_wrapper_with_caption_and_column_headers():
    html = _render(
        '{% listtable rows _("People") _("Name") "client_id" actions=_("Actions") class="queue" %}'
        "{% for r in rows %}<tr><td>{{ r }}</td></tr>{% endfor %}{% empty %}<p>none</p>{% endlisttable %}",
        rows=["Ada <b>"],
    )
    assert '<div class="table-wrap">' in html and '<table class="data stacked queue">' in html
    assert '<caption class="visually-hidden">People</caption>' in html
    assert '<th scope="col">Name</th>' in html and '<th scope="col">client_id</th>' in html
    assert '<th scope="col"><span class="visually-hidden">Actions</span></th>' in html
    assert '<tbody><tr><td data-label="Name">Ada &lt;b&gt;</td></tr></tbody>' in html and "none" not in html
    assert html.count("<th ") == 3


def test_no_rows_render_the_empty_part_only():
    html = _render(
        '{% listtable rows _("People") _("Name") %}<tr></tr>{% empty %}<p class="empty">none</p>{% endlisttable %}',
        rows=[],
    )
    assert html == '<p class="empty">none</p>'


def test_without_an_empty_part_an_empty_table_still_renders():
    html = _render('{% listtable rows _("People") _("Name") %}{% endlisttable %}', rows=[])
    assert '<table class="data stacked">' in html and "<tbody></tbody>" in html


def test_the_pager_follows_the_table_when_asked():
    page = Paginator(list(range(30)), 10).page(2)
    source = '{% listtable page.object_list _("People") _("Name") pager=True %}<tr></tr>{% endlisttable %}'
    html = Template(LOAD + source).render(RequestContext(RequestFactory().get("/"), {"page": page}))
    assert html.index("</table>") < html.index('<nav class="pager"') and "Page 2 of 3" in html
    plain = Template(LOAD + source.replace(" pager=True", "")).render(Context({"page": page}))
    assert '<nav class="pager"' not in plain


def test_each_cell_is_labelled_with_its_column_for_the_phone_layout():
    """On a phone the rows stack as cards: every value carries its column's name (escaped, translated), the
    actions column none; attributes a cell already has are kept and nothing but <td> is touched."""
    with translation.override("es"):
        html = _render(
            '{% listtable rows _("People") _("Status") "a&b" actions=_("Actions") %}{% for r in rows %}'
            '<tr class="x"><td class="ref">{{ r }}</td><td>2</td><td><a href="#">go</a></td></tr>{% endfor %}'
            "{% endlisttable %}",
            rows=["<td>1", "y"],
        )
    assert html.count("<tr class=") == 2
    assert '<tr class="x"><td data-label="Estado" class="ref">&lt;td&gt;1</td><td data-label="a&amp;b">2</td>' \
        '<td data-label=""><a href="#">go</a></td></tr>' in html
    assert "<thead><tr>" in html and "data-label" not in html.split("<tbody>")[0]


def test_the_caption_is_translated():
    with translation.override("es"):
        html = _render('{% listtable rows _("Status") _("Status") %}{% endlisttable %}', rows=[1])
    assert '<caption class="visually-hidden">Estado</caption>' in html


@pytest.mark.parametrize(
    "source",
    [
        "{% listtable rows %}{% endlisttable %}",
        '{% listtable rows _("P") colour="red" %}{% endlisttable %}',
    ],
)
def test_bad_usage_is_a_template_syntax_error(source):
    with pytest.raises(TemplateSyntaxError):
        Template(LOAD + source)
