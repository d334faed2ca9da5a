"""Where `trk server` may keep artifacts: its `--artifacts-destination`, `mlflow-artifacts:`
URIs (which map into it) and the roots named by `--allowed-artifact-roots`. Every stored
location passes `check_location` when an experiment is created, and every read or listing
goes through `repository`, so a location stored before this check (or written straight into
the database) is refused on the way out too."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from trk.artifacts import get_artifact_repository
from trk.artifacts.base import ArtifactRepository
from trk.exceptions import InvalidParameter

PROXY_SCHEME = "mlflow-artifacts:"
_LOCAL = ("", "file")


@dataclass(frozen=True)
class Place:
    """A location as the repository for it will read it: scheme, bucket or host, and path."""

    scheme: str
    netloc: str
    path: str

    def within(self, root: Place) -> bool:
        if (self.scheme, self.netloc) != (root.scheme, root.netloc):
            return False
        base = root.path.rstrip("/")
        return self.path == root.path or self.path.startswith(base + "/")


def _refuse(uri: str, why: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid artifact location {uri!r}: {why}")


def _fully_decoded(text: str) -> str:
    for _ in range(4):  # double and triple encoding too
        step = unquote(text)
        if step == text:
            break
        text = step
    return text


def place_of(uri: str) -> Place:
    """The place `uri` names; refuses what a repository would read somewhere else than it says
    (`?`, `#`, `..` segments even percent-encoded, NUL, backslashes, a relative path)."""
    decoded = _fully_decoded(uri)
    if "?" in uri or "#" in uri:
        raise _refuse(uri, "'?' and '#' are not allowed")
    if "\x00" in decoded or "\\" in decoded:
        raise _refuse(uri, "NUL and backslashes are not allowed")
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, never a root on this server
        raise _refuse(uri, "not an absolute POSIX path")
    if scheme in _LOCAL:
        path = unquote(parsed.path) if scheme == "file" else uri
        if scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise _refuse(uri, "a file: URI names no host")
        if not path.startswith("/"):
            raise _refuse(uri, "a local location must be an absolute path")
        netloc = ""
    else:
        path, netloc = parsed.path or "/", parsed.netloc.lower()
    if ".." in decoded.split("/") or ".." in path.split("/"):
        raise _refuse(uri, "'..' segments are not allowed")
    if scheme in _LOCAL:
        return Place("file", "", os.path.realpath(posixpath.normpath(path)))
    return Place(scheme, netloc, posixpath.normpath(path) if path != "/" else "/")


class ArtifactRoots:
    """The destination and the explicitly allowed roots, and the one check against them."""

    def __init__(self, destination: str, allowed: Sequence[str] = ()) -> None:
        self.destination = destination.rstrip("/") or "/"
        self.allowed = tuple(a for a in allowed if a)
        self._roots = [place_of(r) for r in (self.destination, *self.allowed)]

    def check_location(self, uri: str) -> str:
        """`uri` when artifacts may live there, else 400 naming what is allowed."""
        if uri.startswith(PROXY_SCHEME):
            self._proxied(uri)
            return uri
        place = place_of(uri)
        if not any(place.within(root) for root in self._roots):
            roots = ", ".join([self.destination, *self.allowed, "mlflow-artifacts:/..."])
            raise _refuse(uri, f"outside this server's artifact roots ({roots})")
        return uri

    def repository(self, uri: str) -> ArtifactRepository:
        """The repository for a stored location, after the same check as at create."""
        if uri.startswith(PROXY_SCHEME):
            return get_artifact_repository(self._proxied(uri))
        return get_artifact_repository(self.check_location(uri))

    def find(self, uri: str) -> ArtifactRepository | None:
        """The repository for `uri` when it lies under the roots, else None."""
        try:
            return self.repository(uri)
        except InvalidParameter:
            return None

    def _proxied(self, uri: str) -> str:
        """`mlflow-artifacts:/rel` as the destination's `root/rel` (no host: the proxy is here)."""
        if "?" in uri or "#" in uri:
            raise _refuse(uri, "'?' and '#' are not allowed")
        parsed = urlparse(uri)
        if parsed.netloc:
            raise _refuse(uri, "an mlflow-artifacts: location names no host on this server")
        rel = parsed.path.strip("/")
        place_of("/" + rel)  # the same refusals: '?', '#', '..', NUL
        return f"{self.destination}/{rel}" if rel else self.destination
