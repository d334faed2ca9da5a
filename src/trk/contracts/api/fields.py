"""A request's fields, checked: the one validator both the server and the REST client run.

Each route declares its fields as `{"name": "str!", "tags": "obj[]", "max_results": "int"}`
(a trailing `!` marks a required field; a required `str` is non-empty, a required `text` may
be empty). Unknown fields, missing required fields and values of the wrong type are refused
before any handler runs, so a bad request writes nothing; the client runs the same check
before it sends, so a bad call fails with the error the server would have answered.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from trk.exceptions import InvalidParameter

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def missing(name: str) -> InvalidParameter:
    """MLflow's wording for an absent required field."""
    return InvalidParameter(f"Missing value for required parameter '{name}'.")


def check_fields(
    raw: Mapping[str, Any], fields: Mapping[str, str], where: str = ""
) -> dict[str, Any]:
    """Typed values for `fields`; absent optional fields are left out. `where` prefixes the
    names in messages (`metrics[0].` for an entry of a batch)."""
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise InvalidParameter(f"Unknown field(s) {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        kind, required = spec.rstrip("!"), spec.endswith("!")
        value = raw.get(name)
        if value is None or (value == "" and kind not in ("str", "str[]", "text")):
            if required:
                raise missing(where + name)
            continue
        if value == "" and required and kind != "text":
            raise missing(where + name)
        out[name] = coerce(where + name, kind, value)
    return out


def coerce(name: str, kind: str, value: Any) -> Any:
    """One value as `kind` (str, int, float, bool, obj, or a list of one of those)."""
    if kind.endswith("[]"):
        if not isinstance(value, list):
            raise _wrong(name, "a list", value)
        return [coerce(name, kind[:-2], item) for item in value]
    return _SCALARS[kind](name, value)


def _wrong(name: str, expected: str, value: Any) -> InvalidParameter:
    # MLflow's wording (clients and its tests read it): the value as JSON, then "supplied".
    shown = json.dumps(value, default=repr)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return InvalidParameter(
        f"Invalid value {shown} for parameter '{name}' supplied: expected {expected}"
    )


def _as_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _wrong(name, "a string", value)
    return value


def _as_int(name: str, value: Any) -> int:
    """An int64, as MLflow's protobuf fields hold: a store column (or sqlite's binding) takes
    no more. Protobuf's JSON writes int64 as a string, so ASCII digits in a string are an
    integer too (str.isdigit() also passes '²' and '١', which int() refuses or misreads)."""
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value
    raise _wrong(name, "an integer", value)


_INT_TEXT = re.compile(r"-?[0-9]{1,19}")
_INT64 = 2**63


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        if value in _NON_FINITE:
            return _NON_FINITE[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise _wrong(name, "a number", value)


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _wrong(name, "true or false", value)


def _as_obj(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong(name, "an object", value)
    return value


def _as_list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _wrong(name, "a list", value)
    return value


_SCALARS = {
    "str": _as_str,
    "text": _as_str,  # a string that may be empty even when required (param and tag values)
    "int": _as_int,
    "float": _as_float,
    "bool": _as_bool,
    "obj": _as_obj,
    "list": _as_list,  # checked further by the handler (rows of a batch)
}


def key_values(name: str, items: list[dict[str, Any]] | None) -> dict[str, str]:
    """A `[{"key", "value"}]` list as a dict, each entry checked."""
    out: dict[str, str] = {}
    for item in items or ():
        extra = set(item) - {"key", "value"}
        if extra or not isinstance(item.get("key"), str):
            raise InvalidParameter(f"Each entry of '{name}' needs a string 'key' and a 'value'")
        value = item.get("value", "")
        if not isinstance(value, str):
            raise _wrong(f"{name}.value", "a string", value)
        out[item["key"]] = value
    return out


def choice(name: str, value: str | None, allowed: tuple[str, ...], default: str) -> str:
    """An enum field given by name (MLflow's JSON spells enums by name)."""
    if value is None:
        return default
    if value not in allowed:
        raise InvalidParameter(f"Invalid {name} {value!r}: expected one of {', '.join(allowed)}")
    return value
