"""Hot reads compiled to SQL once per database, then run with each call's values (issue #11).

Django compiles a queryset to SQL every time it runs. For the wide rows the hot requests read (a case with its
patient, identity, specialty, specialist and network: about 120 columns) compiling costs several times what the
database takes to answer, on every request. `Prepared` builds its queryset from stand-in values and compiles it
once per database; each call then binds its own values into that SQL and builds rows or model instances as Django
does (its converters, `Model.from_db`, select_related's populators).

Safe by construction: the queryset is compiled from two different sets of stand-ins, and the SQL, the constants
and the place of every value must agree between them, with every value found among the parameters. A value the
ORM transforms (a LIKE pattern), a list, or a shape that depends on the values fails that check, and the query
then runs through the ORM every time (as correct as before, only not faster). No prefetch_related: the ORM's.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db import connections, models, router
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    QuerySet,
    ValuesListIterable,
    get_related_populators,
)

ID = models.UUIDField()  # the kind of a primary or foreign key value
MOMENT = models.DateTimeField()  # the kind of a moment (a datetime)

# Stand-ins by kind, for the n-th compile and the i-th value: different between the two compiles and between the
# values of one query (two moments of one query must not look alike, or neither could be placed).
_STAND_INS = {
    models.UUIDField: lambda n, i: uuid.uuid4(),
    models.CharField: lambda n, i: f"stand-in-{n}-{i}-{uuid.uuid4().hex}",
    models.IntegerField: lambda n, i: 1_000_000_000 + n * 100_003 + i * 1_009 + uuid.uuid4().int % 1_000,
    # Far-future dates: a date kept by mistake would make an expiry look live only with a date in the past.
    models.DateField: lambda n, i: dt.date(9990 + n, 2, 3) + dt.timedelta(days=i),
    models.DateTimeField: lambda n, i: dt.datetime(9990 + n, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)
    + dt.timedelta(minutes=i),
}


def _same(prepared, param) -> bool:
    """Is this parameter of the compiled query the prepared stand-in? Of one type, or both integers (the PostgreSQL
    backend wraps a bound integer in its column's width, psycopg's Int4 or Int8, where a lookup may bind it plain)."""
    kind = type(prepared) is type(param) or (
        isinstance(prepared, int) and isinstance(param, int) and not isinstance(param, bool))
    return kind and prepared == param


@dataclass(frozen=True)
class _Compiled:
    sql: str
    slots: tuple[tuple[str | None, object], ...]  # (value name, or None and the constant) per parameter
    converters: tuple[tuple[int, tuple, object], ...]  # (column, converters, expression)
    columns: int | None  # rows cut to this many columns (extra select), or None
    model: type[models.Model] | None  # None: rows, as the queryset's values_list gives them
    flat: bool = False  # values_list(flat=True): the one value of each row
    init_list: tuple[str, ...] = ()
    fields: tuple[int, int] = (0, 0)
    populators: tuple = ()
    annotations: tuple[tuple[str, int], ...] = ()


DEFINED: list[Prepared] = []  # every prepared read, for the test that each compiles on the engine in use


class Prepared:
    """`build(**values)` returns a queryset of `model` (a class, or its "app.Model" label where the module cannot
    import it); `kinds` names each value and the field that prepares it for the database (`ID` for keys,
    `models.DateTimeField()` for a moment, ...). The shape of the query must not depend on the values."""

    def __init__(self, model: type[models.Model] | str, build: Callable[..., QuerySet], **kinds: models.Field):
        for name, field in kinds.items():
            if type(field) not in _STAND_INS:  # a bool or small number could equal a constant of the query
                raise TypeError(f"{name}: no stand-in for {type(field).__name__}")
        self.model, self.build, self.kinds = model, build, kinds
        self._compiled: dict[tuple[str, str], _Compiled | None] = {}
        self._lock = threading.Lock()
        DEFINED.append(self)

    def __call__(self, *, using: str | None = None, known: dict | None = None, **values) -> list:
        """Model instances (or rows for a values_list queryset), as `list(build(**values))` gives them. `known`:
        related objects the caller holds, set on every instance (as a related manager sets its owner)."""
        if set(values) != set(self.kinds):
            raise TypeError(f"expected the values {sorted(self.kinds)}, got {sorted(values)}")
        if isinstance(self.model, str):
            self.model = apps.get_model(self.model)
        alias = using or router.db_for_read(self.model)
        connection = connections[alias]
        prepared = self._prepare(values, connection)  # a value the field refuses raises here, as the ORM would
        # None is compiled to IS NULL by the ORM, not bound: such a call is read through the ORM
        compiled = self.compiled(alias) if None not in prepared.values() else None
        if compiled is None:
            found = list(self.build(**values).using(alias))
        else:
            params = [prepared[name] if name else constant for name, constant in compiled.slots]
            with connection.cursor() as cursor:
                cursor.execute(compiled.sql, params)
                rows = cursor.fetchall()
            found = [self._made(compiled, row, alias, connection) for row in rows]
        for name, related in (known or {}).items():
            for obj in found:
                setattr(obj, name, related)
        return found

    def first(self, **values):
        found = self(**values)
        return found[0] if found else None

    def compiled(self, alias: str) -> _Compiled | None:
        """The compiled query for `alias`, or None when it cannot be prepared (the ORM answers instead)."""
        key = (alias, connections[alias].vendor)
        if key not in self._compiled:
            with self._lock:
                if key not in self._compiled:
                    self._compiled[key] = self._compile(alias)
        return self._compiled[key]

    def _prepare(self, values: dict, connection) -> dict:
        out = {}
        for name, field in self.kinds.items():
            value = values[name]
            if isinstance(value, models.Model):
                value = value.pk
            out[name] = None if value is None else field.get_db_prep_value(field.to_python(value), connection)
        return out

    def _compile(self, alias: str) -> _Compiled | None:
        connection = connections[alias]
        found = []
        for n in (1, 2):
            stand_ins = {name: _STAND_INS[type(field)](n, i) for i, (name, field) in enumerate(self.kinds.items())}
            queryset = self.build(**stand_ins)
            if queryset._prefetch_related_lookups or queryset._known_related_objects:
                return None
            compiler = queryset.query.get_compiler(alias)
            sql, params = compiler.as_sql()
            prepared = self._prepare(stand_ins, connection)
            slots = []
            for param in params:
                name = next((k for k, v in prepared.items() if _same(v, param)), None)
                slots.append((name, None if name else param))
            if set(prepared) - {name for name, _constant in slots}:
                return None
            found.append((sql, slots, queryset, compiler))
        (sql, slots, queryset, compiler), (sql2, slots2, _qs, _c) = found
        if sql != sql2 or slots != slots2:
            return None
        return self._described(sql, tuple(slots), queryset, compiler, alias)

    @staticmethod
    def _described(sql, slots, queryset, compiler, alias) -> _Compiled:
        columns = compiler.col_count if compiler.has_extra_select else None
        expressions = [selected[0] for selected in compiler.select[0:compiler.col_count]]
        converters = tuple((pos, tuple(convs), expression)
                           for pos, (convs, expression) in compiler.get_converters(expressions).items())
        base = {"sql": sql, "slots": slots, "converters": converters, "columns": columns}
        if queryset._iterable_class is not ModelIterable:
            # values_list: Django (5.2) selects its fields and annotations in the order listed and returns the
            # rows as selected, converted; extra() columns are left to the ORM
            if queryset._iterable_class not in (ValuesListIterable, FlatValuesListIterable) or (
                    queryset.query.extra_select):
                return None
            return _Compiled(model=None, flat=queryset._iterable_class is FlatValuesListIterable, **base)
        info = compiler.klass_info
        start, end = info["select_fields"][0], info["select_fields"][-1] + 1
        return _Compiled(
            model=info["model"], **base,
            init_list=tuple(selected[0].target.attname for selected in compiler.select[start:end]),
            fields=(start, end), populators=tuple(get_related_populators(info, compiler.select, alias)),
            annotations=tuple((compiler.annotation_col_map or {}).items()),
        )

    @staticmethod
    def _made(compiled: _Compiled, row, alias: str, connection):
        row = list(row if compiled.columns is None else itertools.islice(row, compiled.columns))
        for pos, convs, expression in compiled.converters:
            value = row[pos]
            for converter in convs:
                value = converter(value, expression, connection)
            row[pos] = value
        if compiled.model is None:
            return row[0] if compiled.flat else tuple(row)
        start, end = compiled.fields
        obj = compiled.model.from_db(alias, compiled.init_list, row[start:end])
        for populator in compiled.populators:
            populator.populate(row, obj)
        for name, pos in compiled.annotations:
            setattr(obj, name, row[pos])
        return obj
