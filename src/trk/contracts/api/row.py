"""`Api`: one route of the REST API, as both the server and the REST client read it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from trk.contracts.api.fields import check_fields

# Where the client sends; the server answers every row under all three (MLflow's client
# reaches some routes under 3.0, its web UI under ajax-api).
PREFIX = "/api/2.0/mlflow/"
PREFIXES = (PREFIX, "/api/3.0/mlflow/", "/ajax-api/2.0/mlflow/")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


# eq=False: a row is its own identity (the server binds each row once, tests collect them).
@dataclass(frozen=True, eq=False)
class Api:
    """`method PREFIX+path` taking `fields` (see `fields.check_fields`); `{name}` parts of the
    path are fields too. `idempotent`: a resend after an unknown outcome is safe (the client
    retries it); unsaid, only a GET is."""

    method: str
    path: str
    fields: Mapping[str, str]
    idempotent: bool | None = None

    @property
    def resend(self) -> bool:
        """Whether the client may send this call again when it cannot tell if it landed."""
        return self.method == "GET" if self.idempotent is None else self.idempotent

    def check(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`params` typed as the server takes them; a bad one raises its typed 4xx error."""
        return check_fields(params, self.fields)

    def target(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The path with its `{name}` parts filled from `params` (quoted), and what is left
        of `params` for the query string or the body."""
        rest = dict(params)

        def fill(match: re.Match[str]) -> str:
            return quote(str(rest.pop(match.group(1))), safe="")

        return _PLACEHOLDER.sub(fill, self.path), rest

    def __repr__(self) -> str:
        return f"Api({self.method} {self.path})"
