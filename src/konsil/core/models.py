"""Base model: UUID primary keys and timestamps."""

import uuid

from django.db import models
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable

_CHOICE_LABELS: dict = {}  # field -> {value: label}, built once per field (its labels stay lazy)


class BaseModel(models.Model):
    """Every domain row has a random UUID key (no guessable ids in URLs) and timestamps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def _get_FIELD_display(self, field):  # noqa: N802 -- Django's name, behind get_<field>_display
        """Django's, with the value-to-label map built once per field: Django's builds it on every call and hashes
        every choice's lazy label on the way (a translation each; a list of 50 cases ran 700 of them)."""
        labels = _CHOICE_LABELS.get(field)
        if labels is None:
            labels = _CHOICE_LABELS[field] = {make_hashable(value): label for value, label in field.flatchoices}
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)


def remember_related(instance, name: str, rows) -> None:
    """Keep `rows` as what `instance.<name>.all()` returns, as prefetch_related would have read them: for the rows
    a request has just written (a new case's questions), so its later reads of them skip the database."""
    queryset = getattr(instance, name).all()
    queryset._result_cache, queryset._prefetch_done = list(rows), True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset


def remember_missing(instance, name: str) -> None:
    """Remember that the reverse one-to-one `instance.<name>` has no row (a new case has no consent yet)."""
    getattr(type(instance), name).related.set_cached_value(instance, None)
