"""MLflow's search grammar (the subset trk supports): filter strings, order_by, page tokens.

Parsing only; `trk.store.sql_search` turns the parsed clauses into SQL.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from trk.exceptions import InvalidParameter

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<backtick>`[^`]*`)
    | (?P<dquote>"(?:[^"\\]|\\.)*")
    | (?P<squote>'(?:[^'\\]|\\.|'')*')
    | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<op>!=|<>|>=|<=|==|=|>|<)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][\w.\-/:]*)
    """,
    re.VERBOSE,
)
_ENTITIES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
_COMPARISONS = {"=", "!=", ">", ">=", "<", "<="}
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Clause:
    """One `entity.key op value` comparison; entity is metric, param, tag or attribute."""

    entity: str
    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class OrderKey:
    entity: str
    key: str
    ascending: bool


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        if match.lastgroup != "ws":
            tokens.append(Token(match.lastgroup or "", match.group(), pos))
        pos = match.end()
    return tokens


def _error(text: str, pos: int, why: str) -> InvalidParameter:
    near = text[pos : pos + 20] or "<end>"
    return InvalidParameter(f"Invalid filter {text!r}: {why} at position {pos} (near {near!r})")


def _unquote(token: Token) -> str:
    inner = token.text[1:-1]
    if token.kind == "squote":
        return re.sub(r"\\(.)", r"\1", inner.replace("''", "'"))
    if token.kind == "dquote":
        return re.sub(r"\\(.)", r"\1", inner)
    return inner


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, expected: str) -> Token:
        token = self.peek()
        if token is None:
            raise _error(self.text, len(self.text), f"expected {expected}, got end of string")
        self.i += 1
        return token

    def fail(self, token: Token, expected: str) -> InvalidParameter:
        return _error(self.text, token.pos, f"expected {expected}, got {token.text!r}")

    def identifier(self) -> tuple[str, str]:
        token = self.next("an identifier such as metrics.acc")
        if token.kind in ("backtick", "dquote"):
            return "attribute", _unquote(token)
        if token.kind != "word":
            raise self.fail(token, "an identifier such as metrics.acc")
        prefix, dot, rest = token.text.partition(".")
        if not dot:
            return "attribute", token.text
        entity = _ENTITIES.get(prefix.lower())
        if entity is None:
            raise _error(self.text, token.pos, f"unknown entity {prefix!r} in {token.text!r}")
        if not rest:  # metrics.`my key` or metrics."my key"
            quoted = self.next("a quoted key after " + repr(token.text))
            if quoted.kind not in ("backtick", "dquote"):
                raise self.fail(quoted, "a quoted key")
            rest = _unquote(quoted)
        return entity, rest

    def operator(self) -> str:
        token = self.next("a comparison operator")
        if token.kind == "op":
            return {"==": "=", "<>": "!="}.get(token.text, token.text)
        word = token.text.upper() if token.kind == "word" else ""
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            after = self.next("IN after NOT")
            if after.text.upper() != "IN":
                raise self.fail(after, "IN after NOT")
            return "NOT IN"
        raise self.fail(token, "a comparison operator (=, !=, >, >=, <, <=, LIKE, ILIKE, IN)")

    def value(self, op: str) -> Any:
        if op in ("IN", "NOT IN"):
            return self.string_list()
        token = self.next("a value")
        if token.kind == "number":
            if op not in _COMPARISONS:
                raise self.fail(token, f"a quoted string for {op}")
            return float(token.text)
        if token.kind in ("squote", "dquote"):
            return _unquote(token)
        raise self.fail(token, "a number or a quoted string")

    def string_list(self) -> tuple[str, ...]:
        opening = self.next("'(' after IN")
        if opening.text != "(":
            raise self.fail(opening, "'(' after IN")
        values: list[str] = []
        while True:
            token = self.next("a quoted string")
            if token.kind not in ("squote", "dquote"):
                raise self.fail(token, "a quoted string in the IN list")
            values.append(_unquote(token))
            sep = self.next("',' or ')'")
            if sep.text == ")":
                return tuple(values)
            if sep.text != ",":
                raise self.fail(sep, "',' or ')'")

    def clause(self) -> Clause:
        entity, key = self.identifier()
        op = self.operator()
        value = self.value(op)
        if isinstance(value, str) and op in (">", ">=", "<", "<="):
            raise InvalidParameter(
                f"Invalid filter {self.text!r}: {op} needs a number, got {value!r}"
            )
        if entity == "metric" and not isinstance(value, float):
            raise InvalidParameter(
                f"Invalid filter {self.text!r}: metric {key!r} must be compared with a number"
            )
        if entity in ("param", "tag") and op not in _STRING_OPS:
            raise InvalidParameter(
                f"Invalid filter {self.text!r}: {entity} {key!r} does not support {op}"
            )
        if entity in ("param", "tag") and isinstance(value, float):
            raise InvalidParameter(
                f"Invalid filter {self.text!r}: {entity} {key!r} must be compared with a "
                "quoted string"
            )
        return Clause(entity, key, op, value)


# Each clause is a subquery and each order_by key a join: bounded so that a search is always
# a query the database runs (100 clauses ended as a retryable 503 on sqlite), and cheap.
MAX_FILTER_CLAUSES = 50
MAX_ORDER_BY_KEYS = 20


def parse_filter(text: str | None) -> list[Clause]:
    """`metrics.acc > 0.9 and params.x = 'y'` -> clauses; InvalidParameter on bad syntax."""
    if not text or not text.strip():
        return []
    parser = _Parser(text)
    clauses = [parser.clause()]
    while (token := parser.peek()) is not None:
        if token.kind != "word" or token.text.upper() != "AND":
            raise parser.fail(token, "AND between clauses")
        parser.i += 1
        clauses.append(parser.clause())
        if len(clauses) > MAX_FILTER_CLAUSES:
            raise InvalidParameter(
                f"Invalid filter: at most {MAX_FILTER_CLAUSES} clauses are allowed in one search"
            )
    return clauses


def parse_order_by(order_by: list[str] | tuple[str, ...] | None) -> list[OrderKey]:
    """`["metrics.f1 DESC", "name"]` -> order keys (ascending unless DESC)."""
    keys: list[OrderKey] = []
    if len(order_by or ()) > MAX_ORDER_BY_KEYS:
        raise InvalidParameter(
            f"Invalid order_by: at most {MAX_ORDER_BY_KEYS} keys are allowed, got {len(order_by or ())}"
        )
    for item in order_by or ():
        parser = _Parser(item)
        entity, key = parser.identifier()
        ascending = True
        token = parser.peek()
        if token is not None:
            direction = token.text.upper()
            if token.kind != "word" or direction not in ("ASC", "DESC"):
                raise InvalidParameter(f"Invalid order_by {item!r}: expected ASC or DESC")
            ascending = direction == "ASC"
            parser.i += 1
        extra = parser.peek()
        if extra is not None:
            raise InvalidParameter(f"Invalid order_by {item!r}: unexpected {extra.text!r}")
        keys.append(OrderKey(entity, key, ascending))
    return keys


def encode_page_token(offset: int) -> str:
    """An opaque token for the next page."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset a token stands for (0 for no token); InvalidParameter for garbage."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidParameter(f"Invalid page_token {token!r}") from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidParameter(f"Invalid page_token {token!r}")
    return offset
