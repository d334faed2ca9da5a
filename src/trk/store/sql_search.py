"""Parsed search clauses and order keys -> SQLAlchemy WHERE/ORDER BY, filtered in the database.

A `Fields` describes what one search may refer to: attribute columns (and whether they are
numeric), and key/value tables (metrics, params, tags) linked to the searched row.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, Table, case, exists, false, not_

from trk.exceptions import InvalidParameter
from trk.store.search import Clause, parse_filter, parse_order_by

# entity -> (key/value table, link(alias, key) -> the condition tying it to the searched row)
Link = Callable[[FromClause, str], ColumnElement[bool]]


@dataclass
class Fields:
    """What a search may filter and order on."""

    what: str
    attributes: dict[str, tuple[Any, bool]]  # name -> (column, numeric)
    related: dict[str, tuple[Table, Link]] = field(default_factory=dict)


# The comparison each filter operator makes (a table, so the result type is stated once).
_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "LIKE": lambda column, value: column.like(value),
    "ILIKE": lambda column, value: column.ilike(value),
    "IN": lambda column, value: column.in_(value),
    "NOT IN": lambda column, value: column.not_in(value),
}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    return _COMPARE.get(op, _COMPARE["NOT IN"])(column, value)


def _attribute(fields: Fields, key: str) -> tuple[Any, bool]:
    try:
        return fields.attributes[key]
    except KeyError:
        allowed = ", ".join(sorted(fields.attributes))
        raise InvalidParameter(
            f"Invalid attribute {key!r} for {fields.what} search; expected one of: {allowed}"
        ) from None


def _related(fields: Fields, entity: str) -> tuple[Table, Link]:
    if entity not in fields.related:
        raise InvalidParameter(f"{fields.what} search does not support {entity} filters")
    return fields.related[entity]


def _condition(clause: Clause, fields: Fields) -> ColumnElement[bool]:
    if clause.entity == "attribute":
        column, numeric = _attribute(fields, clause.key)
        value = clause.value
        if numeric and not isinstance(value, float):
            raise InvalidParameter(f"Attribute {clause.key!r} must be compared with a number")
        if not numeric and isinstance(value, float):
            raise InvalidParameter(f"Attribute {clause.key!r} must be compared with a string")
        if numeric:
            value = int(value) if float(value).is_integer() else value
        return _compare(column, clause.op, value)
    table, link = _related(fields, clause.entity)
    alias = table.alias()
    cond = link(alias, clause.key) & _compare(alias.c.value, clause.op, clause.value)
    if "is_nan" in alias.c:  # NaN is stored as 0 + a flag; it never satisfies a comparison
        cond = cond & (alias.c.is_nan == false())
    return exists().where(cond)


def apply_filter(stmt: Select[Any], filter_string: str | None, fields: Fields) -> Select[Any]:
    """Adds the filter string's clauses to `stmt` as WHERE conditions."""
    for clause in parse_filter(filter_string):
        stmt = stmt.where(_condition(clause, fields))
    return stmt


# MLflow keeps prompts in the registry, marked by this tag; its clients add
# `tags.`mlflow.prompt.is_prompt` != 'true'` to every model search, which must keep models
# that lack the tag. As in MLflow: unless the filter asks for prompts, clauses on the tag are
# dropped and prompts are left out.
PROMPT_TAG = "mlflow.prompt.is_prompt"


def _asks_for_prompts(clauses: list[Clause]) -> bool:
    for c in clauses:
        if c.entity == "tag" and c.key == PROMPT_TAG and isinstance(c.value, str):
            value = c.value.lower()
            return (c.op == "=" and value == "true") or (c.op == "!=" and value == "false")
    return False


def apply_registry_filter(
    stmt: Select[Any], filter_string: str | None, fields: Fields
) -> Select[Any]:
    """`apply_filter` for registry searches: prompts only when the filter asks for them."""
    clauses = parse_filter(filter_string)
    if _asks_for_prompts(clauses):
        return apply_filter(stmt, filter_string, fields)
    for clause in clauses:
        if not (clause.entity == "tag" and clause.key == PROMPT_TAG):
            stmt = stmt.where(_condition(clause, fields))
    table, link = _related(fields, "tag")
    alias = table.alias()
    return stmt.where(not_(exists().where(link(alias, PROMPT_TAG) & (alias.c.value == "true"))))


def _nulls_last(column: Any, ascending: bool, extra_rank: Any = None) -> list[Any]:
    # Portable NULLS LAST (older sqlite lacks it): rank missing values after present ones.
    rank = case((column.is_(None), 2), else_=0)
    if extra_rank is not None:
        rank = case((column.is_(None), 2), (extra_rank, 1), else_=0)
    return [rank, column.asc() if ascending else column.desc()]


def apply_order(
    stmt: Select[Any], order_by: Sequence[str] | None, fields: Fields, default: Sequence[Any]
) -> Select[Any]:
    """Adds ORDER BY (outer joins for metric/param/tag keys), then `default` as tie-breakers."""
    order: list[Any] = []
    for i, key in enumerate(parse_order_by(list(order_by or ()))):
        if key.entity == "attribute":
            column, _ = _attribute(fields, key.key)
            order += _nulls_last(column, key.ascending)
            continue
        table, link = _related(fields, key.entity)
        alias = table.alias(f"order_{i}")
        stmt = stmt.outerjoin(alias, link(alias, key.key))
        nan = alias.c.is_nan if "is_nan" in alias.c else None
        order += _nulls_last(alias.c.value, key.ascending, nan)
    return stmt.order_by(*order, *default)


def paged(stmt: Select[Any], offset: int, max_results: int) -> Select[Any]:
    """One extra row tells whether another page follows."""
    return stmt.offset(offset).limit(max_results + 1)
