"""The basic-auth app's parts for `create_app`: its endpoints, its service, its guard."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from trk.server.basic_auth import promotions, rules, users
from trk.server.basic_auth.config import read_config
from trk.server.basic_auth.graphql_guard import authorized_call
from trk.server.basic_auth.guard import BasicAuthGuard, Table
from trk.server.basic_auth.service import AccessControl
from trk.server.basic_auth.signup import routes as signup_routes
from trk.server.endpoint import Endpoint, ServerContext

APP_NAME = "basic-auth"
__all__ = ["ENDPOINTS", "control_for", "guard", "rule_table", "signup_routes"]
ENDPOINTS: list[Endpoint] = [*users.ENDPOINTS, *promotions.ENDPOINTS]


def control_for(ctx: ServerContext, protected_aliases: tuple[str, ...] = ()) -> AccessControl:
    """The service over the store's users (config from MLFLOW_AUTH_CONFIG_PATH), with the
    admin created on first start; handlers and the dashboard find it in `ctx.extras`."""
    control = AccessControl(ctx.store, read_config(), frozenset(protected_aliases))
    control.bootstrap_admin()
    ctx.extras[users.CONTROL] = control
    ctx.extras["can_read"] = control.can_read_current  # the dashboard lists only these
    ctx.extras["authorized_call"] = authorized_call(control)  # GraphQL, field by field
    return control


def rule_table(routes: list[BaseRoute], prefixes: tuple[str, ...]) -> tuple[Table, list[str]]:
    """Each route's (method, path pattern, rule), and the routes that have no rule (those
    are refused to all but admins, and fail the route-coverage test)."""
    table: Table = []
    missing: list[str] = []
    for route in routes:
        path = getattr(route, "path", None)
        if path is None:
            continue
        methods = sorted(getattr(route, "methods", None) or ["GET"])
        for method in (m for m in methods if m != "HEAD"):
            rule = _rule(method, path, prefixes)
            if rule is None:
                missing.append(f"{method} {path}")
                rule = rules.ADMIN
            table.append((method, route.path_regex, rule))  # type: ignore[attr-defined]
    return table, missing


def _rule(method: str, path: str, prefixes: tuple[str, ...]) -> rules.Rule | None:
    for prefix in prefixes:
        if path.startswith(prefix):
            return rules.API_RULES.get((method, path[len(prefix) :]))
    return rules.OTHER_RULES.get((method, path))


def guard(control: AccessControl, table: Table, max_body: int) -> Middleware:
    return Middleware(BasicAuthGuard, control=control, table=table, max_body_bytes=max_body)
