"""`trk rollout ...`: argument parsing and output only (the work is in trk.ab.rollout)."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from trk.cli_common import client_option, emit, json_option, make_client


@click.group("rollout")
def rollout() -> None:
    """Progressive rollouts: traffic in steps, guards at each, rollback or promotion on their own."""


def _controller(tracking_uri: str | None, owner: str | None = None) -> Any:
    from trk.ab.rollout.controller import Controller

    return Controller(make_client(tracking_uri), owner)


@rollout.command("start")
@click.argument("model")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML file of the plan's keys (steps, step-interval, guards, ...); flags override it.",
)
@click.option("--shadow-for", default=None, help="Shadow first for this long, e.g. 10m.")
@click.option(
    "--steps", default=None, help="Challenger traffic in percent  [default: 5,10,25,50,100]"
)
@click.option("--step-interval", default=None, help="Time at each step  [default: 10m]")
@click.option(
    "--min-requests",
    type=int,
    default=None,
    help="Challenger requests per step before its guards may pass  [default: 500]",
)
@click.option(
    "--guard",
    "guards",
    multiple=True,
    help='e.g. "error_rate <= champion + 0.5pp", "p99_ms <= 1.2 * champion", '
    '"accuracy not-worse", "shadow_agreement >= 0.95", "drift_psi <= 0.2", '
    '"drift_psi(petal_length) <= 0.2" (repeatable).',
)
@click.option(
    "--failure-limit",
    type=int,
    default=None,
    help="Failed evaluations at one step before rolling back  [default: 2]",
)
@click.option(
    "--manual-approval-at",
    type=float,
    default=None,
    help="Wait for `trk rollout approve` before the first step at or past this percent.",
)
@click.option(
    "--mode",
    type=click.Choice(["steps", "bandit"]),
    default=None,
    help="steps: the plan's steps; bandit: Thompson sampling on the labels  [default: steps]",
)
@click.option(
    "--min-share",
    type=float,
    default=None,
    help="bandit: the least share of traffic either variant gets  [default: 0.05]",
)
@click.option("--alpha", type=float, default=None, help="Quality guards' level  [default: 0.05]")
@click.option(
    "--min-sample",
    type=int,
    default=None,
    help="Labels per variant before a quality verdict  [default: 100]",
)
@click.option(
    "--horizon",
    type=float,
    default=None,
    help="Labels per variant at which the confidence sequence is tightest.",
)
@click.option(
    "--drift-min-rows",
    type=int,
    default=None,
    help="Served rows per variant before a drift_psi guard judges  [default: 200]",
)
@json_option
@client_option
def start_cmd(
    model: str, plan_path: str | None, as_json: bool, tracking_uri: str | None, **flags: Any
) -> None:
    """Start rolling MODEL@challenger out over MODEL@champion."""
    from trk.ab.rollout.plan import build_plan, load_plan_file

    values = load_plan_file(plan_path) if plan_path else {}
    flags["guards"] = list(flags["guards"]) or None
    values.update({k: v for k, v in flags.items() if v is not None})
    plan = build_plan(values)
    started = _controller(tracking_uri).start(model, plan)
    _show(started, as_json)
    if not as_json:
        for line in needs(plan):
            click.echo(line)


def needs(plan: Any) -> list[str]:
    """How many requests (or labels) each guard needs before it can judge."""
    from trk.ab.rollout.evidence import operational_alpha
    from trk.ab.rollout.guards import QUANTILE, parse_guard, requests_needed

    alpha = operational_alpha(plan)
    out = []
    for guard in map(parse_guard, plan.guards):
        if guard.verdict:
            out.append(f"guard {guard.text!r}: needs {plan.min_sample} labels per variant")
        elif guard.drift:
            out.append(
                f"guard {guard.text!r}: needs {plan.drift_min_rows} served rows per "
                "variant, read from the newest windows (holds while above)"
            )
        else:
            n = requests_needed(guard, alpha, plan.min_requests)
            who = "each variant" if guard.metric in QUANTILE else "the challenger"
            more = (
                f"; fails only past its sequential bound, from {plan.min_sample} of each"
                if guard.metric == "error_rate"
                else ""
            )
            out.append(
                f"guard {guard.text!r}: needs {n} requests of {who} per step{more} "
                f"(level {alpha:.2g})"
            )
    return out


@rollout.command("status")
@click.argument("model")
@json_option
@client_option
def status_cmd(model: str, as_json: bool, tracking_uri: str | None) -> None:
    """Where MODEL's rollout stands: state, weight, the guards' last readings, its history."""
    client = make_client(tracking_uri)
    found = client.store.rollouts.get(model)
    arms = None
    if found.plan.get("mode") == "bandit":
        from trk.ab.rollout.bandit import summary

        arms = summary(client, found)
    _show(found, as_json, arms)


def _command(action: str, doc: str) -> None:
    @rollout.command(action, help=doc)
    @click.argument("model")
    @json_option
    @client_option
    def cmd(model: str, as_json: bool, tracking_uri: str | None) -> None:
        _show(_controller(tracking_uri).command(model, action), as_json)


_command("pause", "Hold MODEL's rollout at its weight until `resume`.")
_command("resume", "Let a paused rollout go on.")
_command("approve", "Let a rollout waiting at --manual-approval-at take its next step.")
_command("abort", "Stop MODEL's rollout: challenger weight 0 at once, aliases untouched.")


@rollout.command("step")
@click.argument("model", required=False)
@json_option
@client_option
def step_cmd(model: str | None, as_json: bool, tracking_uri: str | None) -> None:
    """One evaluation and at most one transition (of MODEL, or of every active rollout)."""
    ctl = _controller(tracking_uri)
    models = [model] if model else [r.model for r in ctl.rollouts.search(active_only=True)]
    results = [ctl.step(m) for m in models]
    if as_json:
        click.echo(orjson.dumps([r.to_json() for r in results], option=orjson.OPT_INDENT_2))
        return
    for r in results:
        d = r.decision
        what = f"{d.action}: {d.reason}" if d else f"not evaluated ({r.rollout.state})"
        click.echo(f"{r.rollout.model}: {what}  [weight {r.rollout.weight * 100:g}%]")


@rollout.command("controller")
@click.option("--interval", default="10s", show_default=True, help="Time between evaluations.")
@click.option(
    "--lease",
    default="60s",
    show_default=True,
    help="How long a claim on a rollout lasts without renewal (a dead copy's expires).",
)
@click.option("--owner", default=None, help="This copy's name in leases [default: host:pid].")
@client_option
def controller_cmd(interval: str, lease: str, owner: str | None, tracking_uri: str | None) -> None:
    """Evaluate every active rollout at each interval until SIGTERM (one copy acts per rollout)."""
    from trk.ab.windows import parse_duration

    every, lease_s = parse_duration(interval, "--interval"), parse_duration(lease, "--lease")
    ctl = _controller(tracking_uri, owner)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"trk rollout controller {ctl.owner}: every {every:g}s, lease {lease_s:g}s")

    def report(result: Any) -> None:
        if result.applied:
            d = result.decision
            click.echo(f"{result.rollout.model}: {d.action}: {d.reason}", nl=True)

    ctl.run(every, lease_s, stop, on_step=report)


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Any) -> str | None:
    return f"{value:.4g}" if isinstance(value, int | float) else None


def _show(r: Any, as_json: bool, arms: list[dict[str, Any]] | None = None) -> None:
    if as_json:
        out = r.to_json() | ({"bandit": arms} if arms is not None else {})
        click.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2))
        return
    from trk.ab.rollout.plan import Plan

    plan = Plan.from_json(r.plan)  # a stored plan that is not one: one line, exit 1
    steps = "bandit" if plan.bandit else ",".join(f"{s:g}" for s in plan.steps)
    at = "shadow" if r.step < 0 else f"step {r.step + 1} of {len(plan.steps)}"
    click.echo(
        f"rollout of {r.model}: v{r.champion_version} (champion) -> "
        f"v{r.challenger_version} (challenger)"
    )
    click.echo(
        f"state: {r.state}  {at}  weight {r.weight * 100:g}%  "
        f"failures {r.failures}/{plan.failure_limit}"
    )
    approval = plan.manual_approval_at
    click.echo(
        f"plan: steps {steps} every {plan.step_interval_s:g}s, "
        f"min {plan.min_requests} requests per step"
        + (f", shadow {plan.shadow_for_s:g}s first" if plan.shadow_for_s else "")
        + (f", approval before {approval:g}%" if approval else "")
    )
    if arms is not None:
        click.echo(f"bandit: Thompson sampling, min share {plan.min_share:g}; since the start:")
        emit(
            [
                {
                    "variant": a["variant"],
                    "labelled": a["labelled"],
                    "accuracy": _num(a["accuracy"]),
                    "P(better)": _num(a["p_better"]),
                    "IPS accuracy": _num(a["ips_accuracy"]),
                    "self-normalised IPS": _num(a["snips_accuracy"]),
                }
                for a in arms
            ],
            False,
        )
    judged = next((t for t in reversed(r.history) if t.guards), None)
    if judged is not None:
        click.echo(f"guards (as of {_time(judged.timestamp_ms)} UTC):")
        emit(
            [
                {
                    "guard": g.get("guard"),
                    "state": g.get("state"),
                    "value": _num(g.get("value")),
                    "bound": _num(g.get("threshold")),
                    "detail": str(g.get("detail", ""))[:90],
                }
                for g in judged.guards
            ],
            False,
        )
    click.echo("history:")
    emit(
        [
            {
                "#": t.seq,
                "time (UTC)": _time(t.timestamp_ms),
                "action": t.action,
                "state": t.to_state,
                "weight": f"{t.weight * 100:g}%",
                "reason": t.reason,
            }
            for t in r.history
        ],
        False,
    )
