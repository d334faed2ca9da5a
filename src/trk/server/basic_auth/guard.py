"""`BasicAuthGuard`: the pure ASGI middleware that signs every request in and checks its rule.

Per request: find the route's rule (rules.py), authenticate (401 without a user), read the
parameters the rule needs (query, path, JSON body: the body is read once, bounded, and
replayed to the route), decide (403 PERMISSION_DENIED), then run the route as that user
(trk.actor) and, for the rules with an after-hook, rewrite its answer (grants for creators,
search results filtered to what the user may read).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trk import actor as acting
from trk.exceptions import PayloadTooLarge, PermissionDenied, TrkError, Unauthenticated
from trk.server.basic_auth import hooks, rules
from trk.server.basic_auth.service import AccessControl
from trk.server.errors import error_response
from trk.store.access import User

UNAUTHENTICATED = (
    "You are not authenticated. Please see "
    "https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow "
    "on how to authenticate."
)
Table = list[tuple[str, re.Pattern[str], rules.Rule]]
# Paths no route serves but that name an experiment's artifacts (MLflow's ajax artifact
# prefix, multipart uploads): checked as artifact writes or reads, then answered 404.
_ARTIFACT_LIKE = re.compile(
    r"^/(?:ajax-)?api/2\.0/mlflow-artifacts/(?:artifacts|mpu/[a-z]+)(?:/(?P<path>.*))?$"
)


class BasicAuthGuard:
    def __init__(
        self,
        app: ASGIApp,
        control: AccessControl,
        table: Table,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.control = control
        self.table = table
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule, path_params = self.rule_for(scope["method"], scope["path"])
        if rule.need == "public":
            await self.app(scope, receive, send)
            return
        try:
            await self.guarded(scope, receive, send, rule, path_params)
        except TrkError as exc:
            response = error_response(exc)
            if isinstance(exc, Unauthenticated):
                response.headers["WWW-Authenticate"] = 'Basic realm="mlflow"'
            await response(scope, receive, send)

    def rule_for(self, method: str, path: str) -> tuple[rules.Rule, dict[str, str]]:
        """The route's rule and path parameters; unknown paths need a signed-in user (the
        router then answers 404), artifact-like ones the experiment's permission."""
        method = "GET" if method == "HEAD" else method
        for want, pattern, rule in self.table:
            found = pattern.match(path)
            if found and want == method:
                return rule, found.groupdict()
        artifact = _ARTIFACT_LIKE.match(path)
        if artifact:
            need = "read" if method == "GET" else "update"
            named = {k: v for k, v in artifact.groupdict().items() if v}  # else ?path=
            return rules.Rule(need, rules.ARTIFACT), named
        return rules.ANYONE, {}

    async def guarded(
        self, scope: Scope, receive: Receive, send: Send, rule: rules.Rule, path: dict[str, str]
    ) -> None:
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1") or None
        user = await run_in_threadpool(self.control.authenticate, auth)
        if user is None:
            raise Unauthenticated(UNAUTHENTICATED)
        body: bytes | None = None  # None: not read here, the route reads it
        if _has_json_body(scope, headers):
            body = await self._read(receive, headers)
        params = _params(scope, path, body or b"")
        who = await run_in_threadpool(self.decide, user, rule, params, scope)
        if rule.hook == "runs" and not user.is_admin:
            cut = await run_in_threadpool(hooks.readable_experiments, self.control, user, params)
            if cut is None:  # nothing readable: an empty answer, as an empty search
                await _json(scope, receive, send, {})
                return
            body = orjson.dumps(cut)
        # A body read here (even an empty one) is replayed: the route must not wait for it.
        replay = _replay(body, receive) if body is not None else receive
        with acting.acting_as(who):
            if who.request_id is not None:  # a rollout's promotion, approved: close its request
                after = hooks.approved(who)
                await self._rewrite(scope, replay, send, after, user, params)
            elif rule.hook in hooks.AFTER:
                after = hooks.AFTER[rule.hook]
                await self._rewrite(scope, replay, send, after, user, params)
            else:
                await self.app(scope, replay, send)

    def decide(
        self, user: User, rule: rules.Rule, params: dict[str, Any], scope: Scope
    ) -> acting.Actor:
        """Who the request acts as; PermissionDenied unless `user` may do what `rule` asks."""
        alias = params.get("alias")
        if _moves_alias(scope) and alias in self.control.protected:
            if scope["method"] != "POST":
                raise PermissionDenied(f"Permission denied: alias {alias!r} is protected")
            version = str(params.get("version"))
            who = self.control.rollout_approval(user, str(params.get("name")), alias, version)
            self.check(user, rule, params)
            return who
        self.check(user, rule, params)
        return acting.Actor(user.username)

    def check(self, user: User, rule: rules.Rule, params: dict[str, Any]) -> None:
        hooks.check(self.control, user, rule, params)

    async def _read(self, receive: Receive, headers: dict[bytes, bytes]) -> bytes:
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body:
            raise PayloadTooLarge(f"Request body exceeds the {self.max_body} byte limit")
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(f"Request body exceeds the {self.max_body} byte limit")
            chunks.append(chunk)
            more = message.get("more_body", False) and message["type"] == "http.request"
        return b"".join(chunks)

    async def _rewrite(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        after: Callable[..., dict[str, Any] | None],
        user: User,
        params: dict[str, Any],
    ) -> None:
        """Run the route, hold its answer, let the hook change it (2xx JSON only)."""
        start: Message = {}
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, hold)
        body = b"".join(chunks)
        if 200 <= start.get("status", 500) < 300:
            answer = orjson.loads(body) if body else {}
            changed = await run_in_threadpool(after, self.control, user, params, answer)
            if changed is not None:
                body = orjson.dumps(changed)
        out = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        out.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": out})
        await send({"type": "http.response.body", "body": body})


def _has_json_body(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    return scope["method"] in ("POST", "PATCH", "DELETE") and b"json" in headers.get(
        b"content-type", b"application/json"
    )


def _moves_alias(scope: Scope) -> bool:
    return scope["method"] in ("POST", "DELETE") and scope["path"].endswith(
        "/registered-models/alias"
    )


def _params(scope: Scope, path: dict[str, str], body: bytes) -> dict[str, Any]:
    """Query, then JSON body, then path parameters; lists stay lists."""
    query = QueryParams(scope.get("query_string", b""))
    params: dict[str, Any] = {}
    for key in query:
        values = query.getlist(key)
        params[key] = values if len(values) > 1 or key in hooks.LIST_PARAMS else values[0]
    if body.strip():
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            decoded = None  # the route refuses it with its own 400
        if isinstance(decoded, dict):
            params.update(decoded)
    params.update(path)
    return params


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _json(scope: Scope, receive: Receive, send: Send, content: dict[str, Any]) -> None:
    from trk.server.json import json_response

    await json_response(content)(scope, receive, send)
