"""An optional bearer token on one endpoint (`/feedback`: labels decide A/B results)."""

from __future__ import annotations

import hmac

from trk.exceptions import Unauthenticated


class BearerCheck:
    """Refuse with 401 unless `Authorization: Bearer <token>`; no token configured: open."""

    def __init__(self, token: str | None, what: str) -> None:
        self.expected = f"Bearer {token}".encode() if token else None
        self.what = what

    def check(self, authorization: str | None) -> None:
        if self.expected is None:
            return
        given = (authorization or "").encode("latin-1", "replace")
        # Constant-time compare: the token must not leak through response timing.
        if not hmac.compare_digest(given, self.expected):
            why = "Missing" if not authorization else "Invalid"
            raise Unauthenticated(f"{why} bearer token for {self.what} (see --feedback-token)")
