"""`trk` and `trk-serve` entry points: argument parsing and output only, no logic."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from trk.cli_common import TrkGroup, client_option, emit, json_option, make_client
from trk.entities import ViewType

if TYPE_CHECKING:
    from trk.tracking.promotion import AliasMove


@click.group(cls=TrkGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trk")
def main() -> None:
    """trk: tracking, model registry and champion/challenger serving."""


# -- experiments ----------------------------------------------------------------------------
@main.group()
def experiments() -> None:
    """Create and list experiments."""


@experiments.command("create")
@click.argument("name")
@click.option("--artifact-location", default=None)
@client_option
@json_option
def experiments_create(
    name: str, artifact_location: str | None, tracking_uri: str | None, as_json: bool
) -> None:
    """Create an experiment and print its id."""
    exp_id = make_client(tracking_uri).create_experiment(name, artifact_location)
    emit([{"experiment_id": exp_id, "name": name}], as_json)


@experiments.command("search")
@click.option("--filter", "filter_string", default=None, help="e.g. \"name LIKE 'serving/%'\"")
@click.option(
    "--view", type=click.Choice(["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]), default="ACTIVE_ONLY"
)
@client_option
@json_option
def experiments_search(
    filter_string: str | None, view: str, tracking_uri: str | None, as_json: bool
) -> None:
    """List experiments."""
    exps = make_client(tracking_uri).search_experiments(
        view_type=ViewType(view), filter_string=filter_string
    )
    rows = [
        {
            "experiment_id": e.experiment_id,
            "name": e.name,
            "lifecycle": e.lifecycle_stage,
            "artifact_location": e.artifact_location,
        }
        for e in exps
    ]
    emit(rows, as_json, list(exps))


# -- runs -----------------------------------------------------------------------------------
@main.group()
def runs() -> None:
    """Search and describe runs."""


@runs.command("search")
@click.option("--experiment-id", "experiment_ids", multiple=True, help="Repeatable.")
@click.option("--experiment-name", "experiment_names", multiple=True, help="Repeatable.")
@click.option("--filter", "filter_string", default="", help='e.g. "metrics.accuracy > 0.9"')
@click.option("--order-by", multiple=True, help='e.g. "metrics.f1 DESC"; repeatable.')
@click.option("--max-results", type=int, default=100, show_default=True)
@client_option
@json_option
def runs_search(
    experiment_ids: tuple[str, ...],
    experiment_names: tuple[str, ...],
    filter_string: str,
    order_by: tuple[str, ...],
    max_results: int,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Search runs with MLflow's filter syntax."""
    from trk.exceptions import NotFound

    client = make_client(tracking_uri)
    ids = list(experiment_ids)
    for name in experiment_names:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise NotFound(f"No experiment named {name!r}")
        ids.append(exp.experiment_id)
    found = client.search_runs(
        ids or ["0"], filter_string, max_results=max_results, order_by=list(order_by) or None
    )
    rows = [
        {
            "run_id": r.info.run_id,
            "name": r.info.run_name,
            "status": r.info.status,
            **{f"metrics.{k}": f"{v:.4g}" for k, v in sorted(r.data.metrics.items())[:6]},
        }
        for r in found
    ]
    emit(rows, as_json, list(found))


@runs.command("describe")
@click.argument("run_id")
@client_option
@json_option
def runs_describe(run_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show one run: info, params, latest metrics and tags."""
    run = make_client(tracking_uri).get_run(run_id)
    rows = [{"field": k, "value": v} for k, v in dataclasses.asdict(run.info).items()]
    rows += [{"field": f"params.{k}", "value": v} for k, v in sorted(run.data.params.items())]
    rows += [{"field": f"metrics.{k}", "value": v} for k, v in sorted(run.data.metrics.items())]
    rows += [{"field": f"tags.{k}", "value": v} for k, v in sorted(run.data.tags.items())]
    emit(rows, as_json, run)


# -- models ---------------------------------------------------------------------------------
@main.group()
def models() -> None:
    """Registered models, versions and aliases."""


@models.command("list")
@click.option("--filter", "filter_string", default=None)
@client_option
@json_option
def models_list(filter_string: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List registered models and where their aliases point."""
    found = make_client(tracking_uri).search_registered_models(filter_string)
    rows = [
        {
            "name": m.name,
            "latest": max((int(v.version) for v in m.latest_versions), default=None),
            "aliases": ", ".join(f"{a}->v{v}" for a, v in sorted(m.aliases.items())),
            "description": m.description or "",
        }
        for m in found
    ]
    emit(rows, as_json, list(found))


@models.command("versions")
@click.argument("name")
@client_option
@json_option
def models_versions(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """List a model's versions."""
    client = make_client(tracking_uri)
    client.get_registered_model(name)  # NotFound names the model
    found = client.search_model_versions(f"name = '{name}'")
    rows = [
        {
            "version": v.version,
            "aliases": ",".join(v.aliases),
            "status": v.status,
            "run_id": v.run_id or "",
            "source": v.source,
        }
        for v in sorted(found, key=lambda v: -int(v.version))
    ]
    emit(rows, as_json, list(found))


@models.command("describe")
@click.argument("name")
@client_option
@json_option
def models_describe(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show a registered model with its tags, aliases and every alias move (who, approved by)."""
    from trk.server.basic_auth.cli import alias_history

    client = make_client(tracking_uri)
    model = client.get_registered_model(name)
    rows = [
        {"field": "name", "value": model.name},
        {"field": "description", "value": model.description or ""},
    ]
    rows += [
        {"field": f"alias.{a}", "value": f"version {v}"} for a, v in sorted(model.aliases.items())
    ]
    rows += [{"field": f"tags.{k}", "value": v} for k, v in sorted(model.tags.items())]
    history = alias_history(client, name)
    rows += [
        {
            "field": f"history.{m['alias']}",
            "value": f"{'deleted' if m['version'] is None else 'version ' + m['version']} by "
            f"{m['actor']}" + (f", approved by {m['approver']}" if m["approver"] else ""),
        }
        for m in history
    ]
    emit(
        rows, as_json, {**dataclasses.asdict(model), "alias_history": history} if as_json else model
    )


@models.command("set-alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version")
@client_option
def models_set_alias(name: str, alias: str, version: str, tracking_uri: str | None) -> None:
    """Point ALIAS of model NAME at VERSION (creates or moves it)."""
    make_client(tracking_uri).set_registered_model_alias(name, alias, version)
    click.echo(f"{name}@{alias} -> version {version}")


@models.command("delete-alias")
@click.argument("name")
@click.argument("alias")
@client_option
def models_delete_alias(name: str, alias: str, tracking_uri: str | None) -> None:
    """Remove ALIAS from model NAME."""
    client = make_client(tracking_uri)
    client.get_model_version_by_alias(name, alias)  # NotFound names the alias
    client.delete_registered_model_alias(name, alias)
    click.echo(f"deleted {name}@{alias}")


@models.command("promote")
@click.argument("name")
@client_option
@json_option
def models_promote(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Move NAME@champion to the challenger's version (old champion kept as @previous)."""
    from trk.tracking.promotion import promote

    _alias_move(promote(make_client(tracking_uri), name), as_json)


@models.command("rollback")
@click.argument("name")
@client_option
@json_option
def models_rollback(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Move NAME@champion back to @previous (which then names the demoted champion)."""
    from trk.tracking.promotion import rollback

    _alias_move(rollback(make_client(tracking_uri), name), as_json)


@models.command("optimize")
@click.argument("name")
@click.argument("version")
@click.option(
    "--alias", default=None, help="Point this alias at the new version (e.g. challenger)."
)
@client_option
@json_option
def models_optimize(
    name: str, version: str, alias: str | None, tracking_uri: str | None, as_json: bool
) -> None:
    """Convert NAME/VERSION (sklearn) to ONNX, check it predicts the same, register it."""
    import trk
    from trk.models.optimize import optimize_version

    if tracking_uri:
        trk.set_tracking_uri(tracking_uri)
    done = optimize_version(name, version, alias)
    if as_json:
        emit([], True, done)
        return
    agreement = done.report.get("label_agreement")
    moved = f", {name}@{alias} -> v{done.version}" if alias else ""
    click.echo(
        f"{name} v{done.version}: ONNX of v{done.source_version} (run {done.run_id}, label "
        f"agreement {agreement if agreement is not None else '-'}, max score diff "
        f"{done.report.get('max_score_diff', 0):.2g}){moved}"
    )


def _alias_move(move: AliasMove, as_json: bool) -> None:
    if as_json:
        emit([], True, move)
    else:
        click.echo(move.message)


@main.command("gc")
@click.option(
    "--backend-store-uri",
    envvar="TRK_BACKEND_STORE_URI",
    default=None,
    help="sqlite:///PATH or postgresql://... (default: the tracking URI).",
)
@click.option(
    "--artifacts-destination",
    envvar="TRK_ARTIFACTS_DESTINATION",
    default=None,
    help="The tracking server's --artifacts-destination: where mlflow-artifacts:/ runs live.",
)
@click.option("--older-than", default=None, help="Only what was deleted longer ago: #d#h#m#s.")
@click.option("--run-ids", default=None, help="Comma-separated deleted runs (default: all).")
@click.option(
    "--experiment-ids", default=None, help="Comma-separated deleted experiments (default: all)."
)
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@json_option
def gc(
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    older_than: str | None,
    run_ids: str | None,
    experiment_ids: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Remove deleted runs and experiments for good, with their artifacts and metrics."""
    from trk.server.app import split_list
    from trk.tracking import gc as garbage

    request = garbage.Request(
        split_list(run_ids),
        split_list(experiment_ids),
        garbage.parse_age(older_than) if older_than else None,
        _local_absolute(artifacts_destination),
    )
    store = garbage.open_store(backend_store_uri)
    todo = garbage.plan(store, request)
    if not dry_run:
        garbage.collect(store, todo)
    verb = "would remove" if dry_run else "removed"
    rows = [
        {"action": verb, "what": f"{d.kind} {d.id}", "artifacts": d.artifacts} for d in todo.doomed
    ]
    rows += [{"action": "kept", "what": what, "artifacts": why} for what, why in todo.kept]
    emit(rows, as_json)


def _local_absolute(path: str | None) -> str | None:
    """A local destination as an absolute path, as `trk server` resolves it."""
    from trk.server.cli import absolute_destination

    return absolute_destination(path) if path else None


@main.command("demo")
def demo() -> None:
    """Train, log, register and load iris models on the embedded store (the Quickstart)."""
    from trk.demo import run_demo

    run_demo()


def serve_main() -> None:
    """Entry point of `trk-serve`."""
    from trk.serving.cli import serve

    serve(prog_name="trk-serve")


def _attach_commands() -> None:
    """Commands that live beside their subsystem, attached here so the tree reads in one place."""
    from trk.ab.cli import ab, compare_cmd, gate_cmd
    from trk.ab.drift_cli import drift_cmd, profile_cmd
    from trk.ab.rollout.cli import rollout
    from trk.server.basic_auth.cli import (
        approve_promotion,
        reject_promotion,
        request_promotion,
        users,
    )
    from trk.server.cli import db_group, server_command
    from trk.serving.log_cli import log_group
    from trk.ui.cli import ui_command
    from trk.webhooks.cli import webhooks

    main.add_command(ab)
    main.add_command(rollout)
    main.add_command(server_command)
    main.add_command(ui_command)
    main.add_command(db_group)
    main.add_command(webhooks)
    main.add_command(log_group)
    models.add_command(gate_cmd)
    models.add_command(profile_cmd)
    ab.add_command(drift_cmd)
    main.add_command(users)
    for command in (request_promotion, approve_promotion, reject_promotion):
        models.add_command(command)
    runs.add_command(compare_cmd)


_attach_commands()

if __name__ == "__main__":
    main()
