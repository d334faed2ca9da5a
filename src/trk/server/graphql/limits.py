"""Bounds on a GraphQL query's shape, checked before it is validated or run.

One request must not become thousands of store reads: like `mlflow server`
(`graphql_no_batching.py`), a query may have at most 10 root fields, 10 aliases at any one
level, 10 levels and 1000 selections in all, with fragments counted where they are spread
(and each fragment once per path, so a fragment cycle cannot loop). The messages are MLflow's.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from graphql import GraphQLError
from graphql.language.ast import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

MAX_ROOT_FIELDS = 10
MAX_ALIASES = 10
MAX_DEPTH = 10
MAX_SELECTIONS = 1000


@dataclass
class _Shape:
    root_fields: int = 0
    aliases: int = 0  # the most at any one level
    selections: int = 0


def _level(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> tuple[list[FieldNode], int, frozenset[str]]:
    """The fields of one level, fragments merged in, and how many of them carry an alias."""
    fields: list[FieldNode] = []
    todo = deque(selection_set.selections)
    visited = set(seen)
    while todo:
        node = todo.popleft()
        if isinstance(node, FieldNode):
            fields.append(node)
        elif isinstance(node, InlineFragmentNode):
            todo.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in visited:
            visited.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                todo.extend(fragment.selection_set.selections)
    return fields, sum(1 for f in fields if f.alias), frozenset(visited)


def _measure(document: DocumentNode) -> _Shape:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    shape = _Shape()
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        stack = [(operation.selection_set, 1, frozenset[str]())]
        while stack:
            selection_set, depth, seen = stack.pop()
            if depth > MAX_DEPTH:
                raise GraphQLError(f"Query exceeds maximum depth of {MAX_DEPTH}")
            fields, aliases, seen = _level(selection_set, fragments, seen)
            shape.aliases = max(shape.aliases, aliases)
            for field in fields:
                shape.root_fields += depth == 1
                shape.selections += 1
                if shape.selections > MAX_SELECTIONS:
                    raise GraphQLError(
                        f"Query exceeds maximum total selections of {MAX_SELECTIONS}"
                    )
                if field.selection_set:
                    stack.append((field.selection_set, depth + 1, seen))
    return shape


def check(document: DocumentNode) -> GraphQLError | None:
    """The first bound `document` breaks, as a GraphQL error; None when it keeps them all."""
    try:
        shape = _measure(document)
    except GraphQLError as exc:
        return exc
    for what, count, limit in (
        ("root fields", shape.root_fields, MAX_ROOT_FIELDS),
        ("aliases", shape.aliases, MAX_ALIASES),
    ):
        if count > limit:
            return GraphQLError(
                f"GraphQL queries should have at most {limit} {what}, got {count} {what}."
            )
    return None
