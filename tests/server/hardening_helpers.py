"""What the hostile tests compare before and after each attack: every row of the sqlite store
and every byte of a directory tree."""

from __future__ import annotations

import http.client
import sqlite3
from pathlib import Path
from urllib.parse import urlparse


def store_dump(backend: str) -> list[str]:
    """Every statement that would rebuild the sqlite store at `backend` (schema and rows)."""
    conn = sqlite3.connect(backend.removeprefix("sqlite:///"))
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes (an absent root is empty)."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def raw_request(
    url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    """Send `path` and `headers` byte for byte (httpx would normalise dots and fill in Host)."""
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host="Host" in (headers or {}))
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
