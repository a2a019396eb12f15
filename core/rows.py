"""Model instances from one hand-written SELECT that joins several tables.

The ORM compiles every queryset afresh: for a `select_related` over three wide models that
costs more CPU than the round trip itself, and a buy runs it on every tap of a flash sale.
`ModelColumns` lets a hot path write the join once, as SQL, and still get real model
instances (`Model.from_db`, with the same database converters the ORM applies, e.g. JSON
decoding), so the code after it does not change. Use it only on measured hot paths
(docs/benchmarks.md); everywhere else the ORM is clearer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)

Converter = Callable[[Any, Any, Any], Any]


class ModelColumns(Generic[M]):
    """Every concrete column of `model` under the table alias `alias`: `.sql` is the
    SELECT list, `.build(row, start)` the instance made from `row[start:start + len]`
    (None for the all-NULL side of a LEFT JOIN)."""

    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]
        quote = connection.ops.quote_name
        self.sql = ", ".join(f"{alias}.{quote(f.column)}" for f in self.fields)
        self._pk_index = self.fields.index(model._meta.pk)
        self._converters: list[tuple[int, list[Converter], Any]] | None = None

    def __len__(self) -> int:
        return len(self.fields)

    def _converters_for_connection(self) -> list[tuple[int, list[Converter], Any]]:
        if self._converters is None:
            found = []
            for i, field in enumerate(self.fields):
                col = field.get_col(self.alias)
                convs = connection.ops.get_db_converters(col) + field.get_db_converters(  # type: ignore[attr-defined]
                    connection
                )
                if convs:
                    found.append((i, convs, col))
            self._converters = found
        return self._converters

    def build(self, row: Sequence[Any], start: int = 0) -> M | None:
        values = list(row[start : start + len(self.fields)])
        if values[self._pk_index] is None:
            return None
        for i, convs, col in self._converters_for_connection():
            for conv in convs:
                values[i] = conv(values[i], col, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)
