"""Design-system template helpers: inline icons and the one date format of each locale.

`{% icon "file-text" %}` inlines a vendored Lucide icon (static/konsil/icons, ISC licence) as decorative SVG;
`{% icon "bell" label=_("Notifications") %}` gives it an accessible name instead.
`{{ value|day }}` is a date in the locale's DATE_FORMAT (in the user's time zone for datetimes);
`{{ value|day_short }}` the same without the year (MONTH_DAY_FORMAT), `{{ value|moment }}` date and time;
`{% ago value %}` a past moment in words ("3 days ago"), its date and time as the title.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path

from django import template
from django.utils import formats, timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext

register = template.Library()

ICON_DIR = Path(__file__).resolve().parent.parent.parent / "static" / "konsil" / "icons"
_NAME = re.compile(r"^[a-z0-9-]+$")


@lru_cache(maxsize=128)
def _icon_body(name: str) -> str:
    """The inner shapes of a vendored icon; empty for an unknown name (never an error on a page)."""
    if not _NAME.match(name):
        return ""
    path = ICON_DIR / f"{name}.svg"
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8")
    match = re.search(r"<svg[^>]*>(.*)</svg>", text, re.S)
    return re.sub(r"\s+", " ", match.group(1)).strip() if match else ""


@register.simple_tag
def icon(name: str, label: str = "", size: int = 20, css: str = "") -> str:
    body = _icon_body(str(name))
    if not body:
        return ""
    a11y = f'role="img" aria-label="{escape(label)}"' if label else 'aria-hidden="true"'
    classes = f"icon icon-{name}" + (f" {escape(css)}" if css else "")
    return mark_safe(  # noqa: S308 - vendored file content, attributes escaped
        f'<svg class="{classes}" xmlns="http://www.w3.org/2000/svg" width="{int(size)}" height="{int(size)}" '
        f'viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" '
        f'stroke-linejoin="round" focusable="false" {a11y}>{body}</svg>'
    )


def _local(value):
    if isinstance(value, dt.datetime):
        return timezone.localtime(value) if timezone.is_aware(value) else value
    return value


@register.filter
def day(value) -> str:
    """A date in the locale's one date format (3 Dec 2026 / 3 de diciembre de 2026 / 2026年12月3日)."""
    if not value:
        return ""
    return formats.date_format(_local(value), "DATE_FORMAT")


@register.filter
def day_short(value) -> str:
    """Day and month in the locale's format, no year."""
    if not value:
        return ""
    return formats.date_format(_local(value), "MONTH_DAY_FORMAT")


@register.filter
def moment(value) -> str:
    """Date and time in the locale's format."""
    if not value:
        return ""
    return formats.date_format(_local(value), "DATETIME_FORMAT")


JUST_NOW = dt.timedelta(minutes=1)  # what timesince would call "0 minutes"


@register.simple_tag
def ago(value) -> str:
    """`<time>` for a past moment: how long ago in words ("just now" under a minute, not "0 minutes ago"), the
    date and time as its title, ISO for machines; a dash when there is none (one tag where a list repeats the
    three parts on every row)."""
    if not value:
        return "—"
    local = _local(value)
    recent = timezone.now() - value < JUST_NOW
    return format_html('<time datetime="{}" title="{}">{}</time>', local.isoformat(),
                       formats.date_format(local, "DATETIME_FORMAT"),
                       gettext("just now") if recent else gettext("%(age)s ago") % {"age": timesince(value)})


@register.filter
def accessible(field):
    """Render a bound field's widget tied to its hint and error (aria-describedby) and marked invalid on error."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if field.errors:
        ids.append(f"{field.auto_id}_error")
    attrs = {}
    if ids:
        attrs["aria-describedby"] = " ".join(ids)
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.filter
def vocab(value) -> str:
    """Clinical vocabulary from data files (specialty names, presets) in the reader's language, when translated."""
    return gettext(str(value)) if value else ""


def demo_enabled() -> bool:
    """Demo mode: KONSIL_DEMO=1/true/on forces it, 0/false/off hides it, auto (default): the demo data is loaded."""
    from django.conf import settings

    flag = str(getattr(settings, "KONSIL_DEMO", "auto")).strip().lower()
    if flag in ("0", "false", "off", "no", ""):
        return False
    if flag in ("1", "true", "on", "yes"):
        return True
    from konsil.accounts.models import User
    from konsil.demo import LOGINS

    return User.objects.filter(email=LOGINS[0].email).exists()


@register.simple_tag
def demo_people():
    """The demo people by role and name for the sign-in page ([] outside demo mode).

    Each: role label, name, email, password, what they are (a specialist's specialties, the offers waiting).
    """
    if not demo_enabled():
        return []
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    from konsil.accounts.models import User
    from konsil.accounts.roles import MFA_ROLES, Role
    from konsil.demo import LOGINS, PASSWORD

    users = {u.email: u for u in User.objects.filter(email__in=[lg.email for lg in LOGINS])}
    people = []
    for lg in LOGINS:
        user = users.get(lg.email)
        if user is None:
            continue
        about = ""
        spec = getattr(user, "specialist", None) if hasattr(user, "specialist") else None
        if spec is not None:
            names = ", ".join(gettext(s.name) for s in spec.specialties.all())
            waiting = spec.offers.filter(status="pending").count()
            about = names
            if waiting:
                about += " · " + ngettext("%(n)d case offered", "%(n)d cases offered", waiting) % {"n": waiting}
        people.append({"role": str(Role(lg.role).label), "name": user.get_full_name() or user.email,
                       "email": lg.email, "password": PASSWORD, "about": about,
                       "mfa": lg.role in MFA_ROLES, "mfa_text": _("asks for a code from an authenticator app")})
    return people


@register.simple_tag(takes_context=True)
def case_next_step(context, case):
    """The patient-side next step of a case (status in words, who acts, by when, the one action), worded for
    someone acting for the patient when the reader is not the patient."""
    from konsil.core.views import next_step

    user = getattr(context.get("request"), "user", None)
    return next_step(case, on_behalf=getattr(user, "pk", None) != case.patient.user_id)


@register.simple_tag
def urgency_pill(case) -> str:
    """A case's urgency badge; routine stays quiet (a tag, not an include: it runs on every row of the queue)."""
    label = case.get_urgency_display()
    if case.urgency != "routine":
        return format_html('<span class="pill urgency-{}">{}</span>', case.urgency, label)
    return format_html('<span class="muted">{}</span>', label)


@register.filter
def lives_in(person) -> str:
    """Where a patient (or a patient identity) lives, in words: cases.choices.place_name."""
    from konsil.cases.choices import place_name

    return place_name(getattr(person, "state", "") or "", getattr(person, "country", "") or "")


@register.simple_tag
def status_pill(case) -> str:
    """A case's status pill."""
    return format_html('<span class="pill status-{}">{}</span>', case.status, case.get_status_display())


_ROW = re.compile(r"<tr\b", re.IGNORECASE)
_CELL = re.compile(r"<td(?=[\s>])", re.IGNORECASE)


def label_cells(body: str, labels: list) -> str:
    """Each row's cells get their column's name as `data-label`, in order: on a phone the table's rows stack as
    cards and each value shows its label (konsil.css, `table.stacked`). An empty label (the actions column) shows
    none."""
    cells = [f'<td data-label="{escape(label)}"' for label in labels]
    rows = _ROW.split(body)
    out = [rows[0]]
    for row in rows[1:]:
        names = iter(cells)
        out.append("<tr" + _CELL.sub(lambda _m, names=names: next(names, '<td data-label=""'), row))
    return "".join(out)


class _ListTableNode(template.Node):
    def __init__(self, rows, columns, options, body, empty):
        self.rows, self.columns, self.options, self.body, self.empty = rows, columns, options, body, empty

    def render(self, context):
        if not self.rows.resolve(context) and self.empty is not None:
            return self.empty.render(context)
        values = {f"table_{k}": v.resolve(context) for k, v in self.options.items()}
        columns = [c.resolve(context) for c in self.columns]
        labels = [*columns, ""] if values.get("table_actions") else columns
        body = mark_safe(label_cells(self.body.render(context), labels))  # noqa: S308 - rendered and escaped there
        with context.push(table_columns=columns, table_body=body, **values):
            return context.template.engine.get_template("partials/list_table.html").render(context)


@register.tag
def listtable(parser, token):
    """A list page's table: `{% listtable rows _("Caption") _("Column") ... actions=_("Actions") class="queue"
    pager=True %}<tr>…</tr>{% empty %}…{% endlisttable %}`.

    The `table-wrap` and `table.data.stacked` wrapper, a visually hidden caption, `scope="col"` headers (an `actions`
    column named for screen readers only), each cell labelled with its column (`label_cells`: rows stack on a
    phone) and, with `pager`, cases/_pager.html after it; the `{% empty %}` part instead when `rows` is empty.
    """
    bits = token.split_contents()
    if len(bits) < 3:
        raise template.TemplateSyntaxError("listtable takes the rows and a caption, then the column names")
    positional, options = [], {}
    for bit in bits[1:]:
        key, sep, value = bit.partition("=")
        if sep and _NAME.match(key) and not key.startswith("_"):
            options[key] = parser.compile_filter(value)
        else:
            positional.append(parser.compile_filter(bit))
    unknown = set(options) - {"actions", "class", "pager"}
    if unknown:
        raise template.TemplateSyntaxError(f"listtable does not take {', '.join(sorted(unknown))}")
    options["caption"] = positional[1]
    body = parser.parse(("empty", "endlisttable"))
    empty = None
    if parser.next_token().contents == "empty":
        empty = parser.parse(("endlisttable",))
        parser.delete_first_token()
    return _ListTableNode(positional[0], positional[2:], options, body, empty)
