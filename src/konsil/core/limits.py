"""Limits on what a client may send the API: JSON bodies bounded in size and nesting, text at any depth free of
NUL characters and lone surrogates, paging bounded. Kept apart from api.py: DRF imports these while it starts."""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser

BAD_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: nothing can store or encode them


def text_errors(data, prefix: str = "", depth: int = 0, max_depth: int = 32) -> dict[str, list[str]]:
    """Field-level errors for text a client cannot mean: NUL characters and lone surrogates, at any depth,
    in keys and values; and nesting deeper than `max_depth`. Iterative over siblings, bounded in depth."""
    errors: dict[str, list[str]] = {}
    if depth > max_depth:
        return {prefix or "non_field_errors": [_("Nested too deeply (at most %(n)d levels).") % {"n": max_depth}]}
    if isinstance(data, str):
        if BAD_TEXT.search(data):
            errors[prefix or "non_field_errors"] = [_("Contains characters that are not allowed in text.")]
        return errors
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return errors
    for key, value in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(key, str) and BAD_TEXT.search(key):
            name = prefix or "non_field_errors"
            errors.setdefault(name, []).append(_("A field name contains characters that are not allowed."))
            continue
        for field, messages in text_errors(value, name, depth + 1, max_depth).items():
            errors.setdefault(field[:200], []).extend(messages)
    return errors


class SafeJSONParser(JSONParser):
    """JSON bodies bounded in size (KONSIL_MAX_JSON_BYTES) and nesting (KONSIL_MAX_JSON_DEPTH), with nested text
    checked like top-level text: a 400 with field-level errors instead of a RecursionError or a stored NUL."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = getattr(settings, "KONSIL_MAX_JSON_BYTES", 1024 * 1024)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise drf.ValidationError({"non_field_errors": [
                _("The request body is too large (at most %(n)d bytes).") % {"n": limit}]})
        if not raw.strip():
            raise drf.ParseError(_("The request body is empty."))
        try:
            data = json.loads(raw.decode((parser_context or {}).get("encoding") or "utf-8"))
        except RecursionError:
            raise drf.ValidationError({"non_field_errors": [_("Nested too deeply.")]}) from None
        except (ValueError, UnicodeDecodeError):
            raise drf.ParseError(_("The request body is not valid JSON.")) from None
        errors = text_errors(data, max_depth=getattr(settings, "KONSIL_MAX_JSON_DEPTH", 32))
        if errors:
            raise drf.ValidationError(errors)
        return data


class BoundedPagination(LimitOffsetPagination):
    """limit at most KONSIL_MAX_PAGE_SIZE (larger values are clamped); offsets past 10**9 read as an empty page."""

    max_offset = 10**9

    @property
    def max_limit(self):
        return getattr(settings, "KONSIL_MAX_PAGE_SIZE", 200)

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)
