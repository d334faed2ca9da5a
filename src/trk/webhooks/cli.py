"""`trk webhooks create|list|test|delete|deliveries` over any store (embedded or a server)."""

from __future__ import annotations

import sys

import click

from trk.cli_common import client_option, emit, json_option, make_client
from trk.contracts.webhooks import Webhook
from trk.webhooks.events import EVENTS

_EVENT_NAMES = [str(e) for e in EVENTS]


@click.group("webhooks")
def webhooks() -> None:
    """Registry webhooks: call a URL when a version is registered or an alias moves."""


@webhooks.command("create")
@click.argument("name")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    type=click.Choice(_EVENT_NAMES),
    help="Repeatable, e.g. model_version_alias.created.",
)
@click.option("--description", default=None)
@click.option(
    "--secret",
    envvar="TRK_WEBHOOK_SECRET",
    show_envvar=True,
    default=None,
    help="HMAC key deliveries are signed with; prefer the variable (argv is visible to all).",
)
@client_option
@json_option
def create(
    name: str,
    url: str,
    events: tuple[str, ...],
    description: str | None,
    secret: str | None,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Create a webhook and print it (never its secret)."""
    hook = make_client(tracking_uri).create_webhook(name, url, list(events), description, secret)
    emit([_row(hook)], as_json, hook.to_json())


@webhooks.command("list")
@client_option
@json_option
def list_(tracking_uri: str | None, as_json: bool) -> None:
    """Every webhook, newest first."""
    client, token = make_client(tracking_uri), None
    hooks: list[Webhook] = []
    while True:
        page = client.list_webhooks(max_results=1000, page_token=token)
        hooks.extend(page)
        token = page.token
        if not token:
            break
    emit([_row(h) for h in hooks], as_json, [h.to_json() for h in hooks])


@webhooks.command("test")
@click.argument("webhook_id")
@click.option("--event", type=click.Choice(_EVENT_NAMES), default=None)
@client_option
@json_option
def test(webhook_id: str, event: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Send an example payload now; exit 1 unless the receiver answered below 400."""
    result = make_client(tracking_uri).test_webhook(webhook_id, event)
    emit([result.to_json()], as_json, result.to_json())
    if not result.success:
        sys.exit(1)


@webhooks.command("delete")
@click.argument("webhook_id")
@client_option
def delete(webhook_id: str, tracking_uri: str | None) -> None:
    """Delete a webhook and its delivery record."""
    make_client(tracking_uri).delete_webhook(webhook_id)
    click.echo(f"deleted webhook {webhook_id}")


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--max-results", type=int, default=50, show_default=True)
@client_option
@json_option
def deliveries(webhook_id: str, max_results: int, tracking_uri: str | None, as_json: bool) -> None:
    """The webhook's recent deliveries: status, attempts, last error."""
    found = make_client(tracking_uri).list_webhook_deliveries(webhook_id, max_results)
    emit([d.to_json() for d in found], as_json)


def _row(hook: object) -> dict[str, object]:
    data = hook.to_json()  # type: ignore[attr-defined]
    events = ",".join(f"{e['entity']}.{e['action']}".lower() for e in data["events"])
    return {k: data.get(k) for k in ("webhook_id", "name", "url", "status")} | {"events": events}
