"""
A queryset's conditions tested on a row as a change recorded it, in the
database: in that one query, the model's table is a one-row table of the
recorded values. So whatever narrows a view's rows (its `readable()` rule, its
filters: django-filter's, DRF's search, lookups across relations) says whether
the row was in view before the change exactly as it says which rows are now.
"""

from django.db import DatabaseError, connections, transaction
from django.db.models.sql.datastructures import BaseTable


class Unknown(Exception):
    """The conditions read what the change did not record (a long text, say)."""


class RecordedRow(BaseTable):
    """The FROM clause's model table, as one row of recorded values."""

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


def matches(queryset, values: dict, fields) -> bool:
    """Whether the row whose recorded `values` (by attname, for `fields`) are
    these is one `queryset` returns; `Unknown` if its conditions read a column
    the change did not record."""
    query = queryset.values_list("pk").query
    alias = query.get_initial_alias()
    connection = connections[queryset.db]
    # SQLite's columns take any value as it comes (and a CAST to its `datetime`
    # would make a number of a date); elsewhere, a literal is typed as its column.
    typed = connection.vendor != "sqlite"
    columns = [
        (
            field.column,
            field.cast_db_type(connection) if typed else None,
            field.get_db_prep_value(
                field.to_python(values.get(field.attname)), connection
            ),
        )
        for field in fields
    ]
    query.alias_map[alias] = RecordedRow(
        query.alias_map[alias].table_name, alias, columns
    )
    try:
        with transaction.atomic(using=queryset.db):  # an error spoils no transaction
            return query.has_results(using=queryset.db)
    except DatabaseError as error:
        raise Unknown(str(error)) from error
