"""The bearer token `trk server` requires: from `TRK_AUTH_TOKEN` or a file, never from argv
(the process list shows every argument to every user), and never a placeholder."""

from __future__ import annotations

from pathlib import Path

from trk import settings
from trk.exceptions import InvalidParameter
from trk.server.hosts import is_loopback

MIN_LENGTH = 16
# Values shipped in examples and templates: a token anyone can read in a repository is none.
PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me", "replaceme")
WORDS = ("secret", "password", "token", "admin", "test")
WHERE = "set TRK_AUTH_TOKEN or --auth-token-file"


def check_token(token: str) -> str:
    """`token` unless it is empty, a known placeholder or shorter than 16 characters."""
    lowered = token.lower()
    placeholder = any(p in lowered for p in PLACEHOLDERS) or lowered.strip("-_0123456789") in WORDS
    if not token or placeholder or len(token) < MIN_LENGTH:
        raise InvalidParameter(
            f"Refusing the auth token: empty, a placeholder (change-me, ...) or shorter than "
            f"{MIN_LENGTH} characters; generate one (python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))') and " + WHERE
        )
    return token


def load_token(token_file: str | None) -> str | None:
    """The token from `token_file` (surrounding whitespace dropped), else `TRK_AUTH_TOKEN`,
    else None; checked either way."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidParameter(f"Cannot read --auth-token-file {token_file}: {exc}") from None
        return check_token(token)
    from_env = settings.server_auth_token()
    return None if from_env is None else check_token(from_env.strip())


def check_exposure(host: str, token: str | None, insecure_no_auth: bool) -> None:
    """Listening beyond loopback needs a token, unless the operator says it is meant."""
    if token is None and not insecure_no_auth and not is_loopback(host):
        raise InvalidParameter(
            f"Refusing to listen on {host} without an auth token: {WHERE}, or pass "
            "--insecure-no-auth if every client on that network may write to the store"
        )
