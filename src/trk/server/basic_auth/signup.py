"""MLflow's sign-up page for admins: `/signup` (a form) and `users/create-ui` (its POST).

A browser form can be posted cross-site, so the POST must carry the token the form was served
with, matched against a same-site cookie set with it (double submit): a page elsewhere can
make the browser post, but cannot read the token.
"""

from __future__ import annotations

import hmac
import html
import secrets
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from trk.exceptions import TrkError
from trk.server.basic_auth.passwords import hash_password
from trk.server.basic_auth.service import AccessControl
from trk.server.params import read_body

COOKIE = "trk_csrf"
_FORM = """<!doctype html><title>Sign up a user</title>
<form method="post" action="{action}">
<input type="hidden" name="csrf_token" value="{token}">
<label>Username <input name="username" required></label>
<label>Password <input name="password" type="password" required></label>
<button type="submit">Sign up</button>
</form>"""


def routes(control: AccessControl, api_prefix: str, max_body: int) -> list[Route]:
    async def signup(_request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        page = _FORM.format(action=f"{api_prefix}users/create-ui", token=token)
        response = HTMLResponse(page)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    async def create_ui(request: Request) -> Response:
        form = parse_qs((await read_body(request, max_body)).decode("utf-8", "replace"))
        sent, kept = form.get("csrf_token", [""])[0], request.cookies.get(COOKIE, "")
        if not sent or not kept:
            return HTMLResponse("The CSRF token is missing.", status_code=400)
        if not hmac.compare_digest(sent, kept):
            return HTMLResponse("The CSRF tokens do not match.", status_code=400)
        username, password = form.get("username", [""])[0], form.get("password", [""])[0]
        if not username or not password:
            return HTMLResponse("Username and password cannot be empty.", status_code=400)
        try:
            await run_in_threadpool(control.access.create_user, username, hash_password(password))
        except TrkError as exc:
            return HTMLResponse(html.escape(exc.message), status_code=int(exc.status))
        return HTMLResponse(f"Successfully signed up user: {html.escape(username)}")

    return [
        Route("/signup", signup, methods=["GET"]),
        Route(f"{api_prefix}users/create-ui", create_ui, methods=["POST"]),
    ]
