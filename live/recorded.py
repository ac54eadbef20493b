"""
A queryset's conditions tested on rows given by their values (as a change
recorded them, or as a GET read them), in the database: in that one query, the
model's table is a one-row table of the values. So whatever narrows a view's
rows (its `readable()` rule, its filters: django-filter's, DRF's search,
lookups across relations) says whether a row was in view before a change
exactly as it says which rows are now.

`RowTest` compiles a queryset's test once, for many rows; `test_rows` runs many
tests in one statement (a change shown to fifty filtered lists costs one).
"""

import contextlib

from django.db import DatabaseError, connections, transaction
from django.db.models.sql.datastructures import BaseTable


class Unknown(Exception):
    """The conditions read what the values do not hold (a long text, say)."""


class RecordedRow(BaseTable):
    """The FROM clause's model table, as one row of values."""

    def __init__(self, table_name, alias, columns):
        super().__init__(table_name, alias)
        self.columns = columns  # [(column, type to cast to or None, value)]

    def as_sql(self, compiler, connection):
        quote = connection.ops.quote_name
        selected = [
            f"{'%s' if cast is None else f'CAST(%s AS {cast})'} AS {quote(column)}"
            for column, cast, _value in self.columns
        ]
        params = [value for _column, _cast, value in self.columns]
        return f"(SELECT {', '.join(selected)}) {quote(self.table_alias)}", params

    def relabeled_clone(self, change_map):
        alias = change_map.get(self.table_alias, self.table_alias)
        return self.__class__(self.table_name, alias, self.columns)


class RowTest:
    """Whether a row whose values (by attname) are given is one `queryset`
    returns: its SQL compiled once, with a slot for each of `fields`."""

    def __init__(self, queryset, fields):
        self.db = queryset.db
        self.fields = fields
        connection = connections[self.db]
        # SQLite's columns take any value as it comes (and a CAST to its
        # `datetime` would make a number of a date); elsewhere, a value is
        # typed as its column.
        typed = connection.vendor != "sqlite"
        slots = [object() for _ in fields]
        query = queryset.values_list("pk").query
        alias = query.get_initial_alias()
        columns = [
            (field.column, field.cast_db_type(connection) if typed else None, slot)
            for field, slot in zip(fields, slots, strict=True)
        ]
        table = query.alias_map[alias].table_name
        query.alias_map[alias] = RecordedRow(table, alias, columns)
        self.sql, params = query.exists().get_compiler(using=self.db).as_sql()
        where = {id(slot): field for slot, field in zip(slots, fields, strict=True)}
        self.params = [where.get(id(param), param) for param in params]
        self.slotted = {id(field) for field in fields}

    def params_for(self, values: dict) -> list:
        """The statement's parameters for a row of `values`; `Unknown` if they
        lack one of the fields it reads."""
        connection = connections[self.db]
        params = []
        for param in self.params:
            if id(param) not in self.slotted:
                params.append(param)
            elif param.attname not in values:
                raise Unknown(param.attname)
            else:
                value = param.to_python(values[param.attname])
                params.append(param.get_db_prep_value(value, connection))
        return params


def test_rows(tests: list[tuple[RowTest, dict]]) -> list[bool | None]:
    """For each `(test, values)`, whether that row passes it (`None`: cannot
    tell), all in one statement (or, if one of them cannot be run, each alone)."""
    if not tests:
        return []
    db = tests[0][0].db
    try:
        params = [test.params_for(values) for test, values in tests]
        sql = "SELECT " + ", ".join(f"EXISTS({test.sql})" for test, _ in tests)
        with _guarded(db), connections[db].cursor() as cursor:
            cursor.execute(sql, [param for row in params for param in row])
            return [bool(result) for result in cursor.fetchone()]
    except (DatabaseError, Unknown):
        if len(tests) == 1:
            return [None]
        return [result for one in tests for result in test_rows([one])]


def _guarded(db):
    """Inside a transaction, a savepoint, so that a statement that fails spoils
    nothing; outside one, nothing (a transaction of its own would be a write
    lock on SQLite, whose transactions here begin IMMEDIATE)."""
    if connections[db].in_atomic_block:
        return transaction.atomic(using=db)
    return contextlib.nullcontext()


def matches(queryset, values: dict, fields) -> bool:
    """Whether the row of `values` (by attname, for those of `fields` they
    hold) is one `queryset` returns; `Unknown` if its conditions read a column
    they do not hold."""
    held = tuple(field for field in fields if field.attname in values)
    [result] = test_rows([(RowTest(queryset, held), values)])
    if result is None:
        raise Unknown("the conditions read a column the values do not hold")
    return result
