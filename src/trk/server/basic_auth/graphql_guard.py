"""GraphQL under basic-auth: each root field (and each nested one answered by a REST row) is
checked against its REST row's rule, as MLflow checks its GraphQL fields. A denied field is
null with an error; a search answers only what the user may read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trk import actor as acting
from trk.contracts.api.row import Api
from trk.exceptions import Unauthenticated
from trk.server.basic_auth import hooks, rules
from trk.server.basic_auth.service import AccessControl

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def authorized_call(
    control: AccessControl,
) -> Callable[[Api, dict[str, Any], Answer], dict[str, Any]]:
    """`call(api, params, answer)`: `answer(params)` if the signed-in user may, filtered."""

    def call(api: Api, params: dict[str, Any], answer: Answer) -> dict[str, Any]:
        who = acting.current()
        user = None if who is None else control.access.find_user(who.name)
        if user is None:
            raise Unauthenticated("You are not authenticated.")
        rule = rules.API_RULES.get((api.method, api.path), rules.ADMIN)
        hooks.check(control, user, rule, params)
        if rule.hook == "runs" and not user.is_admin:
            cut = hooks.readable_experiments(control, user, params)
            if cut is None:
                return {}
            params = cut
        result = answer(params)
        if rule.hook is not None and rule.hook.startswith("filter_"):
            result = hooks.AFTER[rule.hook](control, user, params, result) or result
        return result

    return call
