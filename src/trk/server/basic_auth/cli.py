"""`trk users token ...` and `trk models request-promotion | approve-promotion |
reject-promotion`: a signed-in user's calls to a basic-auth `trk server`.

The user signs in from TRK_TRACKING_USERNAME / TRK_TRACKING_PASSWORD (or MLflow's
MLFLOW_TRACKING_USERNAME / _PASSWORD), or with a token (TRK_TRACKING_TOKEN).
"""

from __future__ import annotations

from typing import Any

import click
import orjson

from trk import settings
from trk.cli_common import client_option, emit, json_option
from trk.contracts.api import access as api
from trk.contracts.api.row import Api
from trk.exceptions import InvalidParameter, NotFound
from trk.store.rest_call import call
from trk.transport import Transport


def _call(tracking_uri: str | None, row: Api, **params: Any) -> dict[str, Any]:
    uri = tracking_uri or settings.default_tracking_uri()
    if not uri.startswith(("http://", "https://")):
        raise InvalidParameter(f"{uri} is not a trk server: users and promotions live on one")
    transport = Transport(uri, settings.tracking_token())
    try:
        return call(transport, row, **params)
    finally:
        transport.close()


# -- trk users token -------------------------------------------------------------------------
@click.group("users")
def users() -> None:
    """The signed-in user's account on a basic-auth trk server."""


@users.group("token")
def token() -> None:
    """Bearer tokens for machines (trk-serve, CI, the rollout controller)."""


@token.command("create")
@click.option("--name", default="token", show_default=True, help="What the token is for.")
@client_option
@json_option
def token_create(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Make a token for the signed-in user; it is shown this once and stored only hashed."""
    made = _call(tracking_uri, api.CREATE_TOKEN, name=name)
    if as_json:
        click.echo(orjson.dumps(made).decode())
        return
    click.echo(f"token id {made['id']} ({made['name']}); shown once, store it now:")
    click.echo(made["token"])


@token.command("list")
@client_option
@json_option
def token_list(tracking_uri: str | None, as_json: bool) -> None:
    """The signed-in user's tokens (ids and names; never the tokens)."""
    emit(_call(tracking_uri, api.LIST_TOKENS)["tokens"], as_json)


@token.command("revoke")
@click.argument("token_id", type=int)
@client_option
def token_revoke(token_id: int, tracking_uri: str | None) -> None:
    """Revoke one of the signed-in user's tokens."""
    _call(tracking_uri, api.REVOKE_TOKEN, id=token_id)
    click.echo(f"revoked token {token_id}")


# -- trk models ...-promotion ------------------------------------------------------------------
@click.command("request-promotion")
@click.argument("name")
@click.argument("version")
@click.option("--alias", required=True, help="The protected alias to move (champion).")
@client_option
@json_option
def request_promotion(
    name: str, version: str, alias: str, tracking_uri: str | None, as_json: bool
) -> None:
    """Ask that ALIAS of NAME move to VERSION (needs EDIT); another user approves it."""
    made = _call(tracking_uri, api.REQUEST_PROMOTION, name=name, version=version, alias=alias)
    if as_json:
        click.echo(orjson.dumps({"request_id": made["request_id"]}).decode())
    else:
        click.echo(f"request id: {made['request_id']}")


def _decision(verb: str, row: Api) -> click.Command:
    @click.command(f"{verb}-promotion")
    @click.argument("name")
    @click.argument("request_id")
    @client_option
    @json_option
    def decide(name: str, request_id: str, tracking_uri: str | None, as_json: bool) -> None:
        found = _call(tracking_uri, row, name=name, request_id=request_id)["promotion_request"]
        if as_json:
            click.echo(orjson.dumps(found).decode())
            return
        click.echo(
            f"{found['name']}@{found['alias']} -> version {found['version']}: {found['state']}"
        )

    decide.help = (
        f"{verb.capitalize()} promotion REQUEST_ID of NAME (needs MANAGE; not your own request)."
    )
    return decide


approve_promotion = _decision("approve", api.APPROVE_PROMOTION)
reject_promotion = _decision("reject", api.REJECT_PROMOTION)


def alias_history(client: Any, name: str) -> list[dict[str, Any]]:
    """The model's alias moves, from the store or the server; empty where none is kept."""
    promotions = getattr(client.store, "promotions", None)
    if promotions is not None:
        return [m.to_json() for m in promotions.history(name)]
    transport = getattr(client.store, "transport", None)
    if transport is None:
        return []
    try:
        found = call(transport, api.ALIAS_HISTORY, name=name)
    except NotFound:  # a server without the basic-auth app keeps no readable history
        return []
    moves: list[dict[str, Any]] = found.get("alias_moves", [])
    return moves
