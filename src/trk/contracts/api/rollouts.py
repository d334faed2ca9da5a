"""trk's own routes for progressive rollouts (not in MLflow): read, start, transition, lease.

Reads and leases may be resent; a start or a transition is sent once (a resent transition
that had committed comes back 409, which a controller reads as "someone acted": the same).
"""

from __future__ import annotations

from trk.contracts.api.row import Api

_OWNER = {"model": "str!", "owner": "str!"}

GET = Api("GET", "trk/rollouts/get", {"model": "str!"})
LIST = Api("GET", "trk/rollouts/list", {"active_only": "bool"})
START = Api("POST", "trk/rollouts/start", {"rollout": "obj!", "reason": "text"}, idempotent=False)
TRANSITION = Api(
    "POST",
    "trk/rollouts/transition",
    {"model": "str!", "revision": "int!", "changes": "obj!", "transition": "obj!"},
    idempotent=False,
)
LEASE = Api("POST", "trk/rollouts/lease", {**_OWNER, "ttl_ms": "int!"}, idempotent=True)
RELEASE = Api("POST", "trk/rollouts/release", _OWNER, idempotent=True)
