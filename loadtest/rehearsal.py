"""Rehearse the scaled-out deployment on one machine, and check what k8s/ relies on.

`trk server` on PostgreSQL with artifacts in S3 (moto's server stands in for it when no
endpoint is given), three `trk-serve` replicas on three ports configured only by `TRK_*`
variables (as the k8s ConfigMap does) in split mode with a sticky header, a load generator
spreading users across the replicas, `trk models promote` halfway through, each replica
drained as Kubernetes would (out of the rotation, a preStop pause, SIGTERM), then
`trk ab report`. Meanwhile most answers are labelled through `/feedback` on a random live
replica, the rest in bulk with `trk ab label` `--bulk-delay-s` after the replicas stopped
(`rehearsal_labels.py`). Checks: no request failed; a sticky key got the same variant on
every replica; every replica served the promoted version within one reload interval (plus
the load of the new version); the report sums all replicas' runs; each replica exited 0
within the grace period of k8s/base; no label was refused, and the report counts every
label exactly once per variant, from the store's join.

    python loadtest/rehearsal.py --backend-store-uri postgresql://user@host/db \
        [--bulk-delay-s 60] [--json-out F]

Prints a markdown table of figures and the checks; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rehearsal_checks as checks  # noqa: E402
import rehearsal_labels as labels  # noqa: E402
from rehearsal_load import Answer, LoadGenerator  # noqa: E402
from rehearsal_procs import Proc, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVER_ARGV = [str(BIN / "trk"), "server"]  # Dockerfile.server's ENTRYPOINT
# moto accepts any credentials; a real deployment gets them from the Secret trk-server-store.
S3_ENV = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal"} | {
    "AWS_DEFAULT_REGION": "us-east-1"
}


@dataclass
class Config:
    backend_store_uri: str
    s3_endpoint: str | None = None
    bucket: str = "trk-rehearsal"
    model: str = "iris"
    replicas: int = 3
    duration_s: float = 12.0
    connections: int = 6
    users: int = 200
    weight: float = 0.5
    sticky_header: str = "X-User-Id"
    reload_interval_s: float = 1.0
    report_interval_s: float = 1.0
    pre_stop_s: float = 0.5  # k8s/base sleeps 5 s; scaled down here
    load_allowance_s: float = 10.0  # time to download and warm the new version, on top
    bulk_delay_s: float = 60.0  # the bulk labels arrive this long after the replicas stopped
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="trk-rehearsal-")))


def grace_period_s() -> float:
    """k8s/base's terminationGracePeriodSeconds minus its preStop sleep: the drain budget."""
    deploy = yaml.safe_load((ROOT / "k8s/base/serve-deployment.yaml").read_text())
    pod = deploy["spec"]["template"]["spec"]
    sleep = float(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
    return float(pod["terminationGracePeriodSeconds"]) - sleep


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """A clean environment for a child: PATH, HOME (and the PYTHONPATH of a checkout under
    test), then what the caller sets."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "PYTHONPATH") if k in os.environ}
    return keep | extra


def start_moto(workdir: Path) -> Proc:
    """moto's standalone S3 server, when no endpoint was given."""
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = Proc("moto", argv, child_env({}), workdir / "moto.log", port).start()
    proc.wait_ready("/moto-api/", 60)
    return proc


def make_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_boto_keys())
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)


def _boto_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
    }


def start_server(cfg: Config, s3: str) -> Proc:
    """`trk server` on the backend store, artifacts proxied to S3, as k8s/base runs it."""
    port = free_port()
    env = child_env(
        S3_ENV
        | {
            "TRK_BACKEND_STORE_URI": cfg.backend_store_uri,
            "TRK_ARTIFACTS_DESTINATION": f"s3://{cfg.bucket}/artifacts",
            "TRK_S3_ENDPOINT_URL": s3,
            "TRK_HOST": "127.0.0.1",
            "TRK_PORT": str(port),
        }
    )
    proc = Proc("trk-server", SERVER_ARGV, env, cfg.workdir / "server.log", port)
    proc.start().wait_ready("/health")
    return proc


def register_models(tracking_uri: str, name: str) -> tuple[str, str]:
    """Two iris classifiers as versions of `name`: champion -> first, challenger -> second."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    import trk
    import trk.sklearn

    trk.set_tracking_uri(tracking_uri)
    trk.set_experiment(f"{name}-training")
    x, y = load_iris(return_X_y=True)
    versions = []
    for model in (LogisticRegression(max_iter=500), DecisionTreeClassifier(max_depth=2)):
        with trk.start_run():
            info = trk.sklearn.log_model(
                model.fit(x, y), name="model", registered_model_name=name, input_example=x[:2]
            )
        versions.append(str(info.registered_model_version))
    client = trk.Client(tracking_uri)
    client.set_registered_model_alias(name, "champion", versions[0])
    client.set_registered_model_alias(name, "challenger", versions[1])
    return versions[0], versions[1]


def start_replicas(cfg: Config, tracking_uri: str) -> list[Proc]:
    """`trk-serve` replicas configured by variables only, as the ConfigMap configures pods."""
    replicas = []
    for i in range(cfg.replicas):
        port = free_port()
        env = child_env(
            {
                "TRK_MODEL_URI": f"models:/{cfg.model}@champion",
                "TRK_CHALLENGER_URI": f"models:/{cfg.model}@challenger",
                "TRK_MODE": "split",
                "TRK_CHALLENGER_WEIGHT": str(cfg.weight),
                "TRK_STICKY_HEADER": cfg.sticky_header,
                "TRK_RELOAD_INTERVAL_S": str(cfg.reload_interval_s),
                "TRK_REPORT_INTERVAL_S": str(cfg.report_interval_s),
                "TRK_TRACKING_URI": tracking_uri,
                "TRK_MODEL_CACHE": str(cfg.workdir / f"cache-{i}"),  # one per pod
                "TRK_HOST": "127.0.0.1",
                "TRK_PORT": str(port),
            }
        )
        log = cfg.workdir / f"replica-{i}.log"
        replicas.append(Proc(f"replica-{i}", [str(BIN / "trk-serve")], env, log, port).start())
    for proc in replicas:
        proc.wait_ready("/health")
    return replicas


def trk_cli(*args: str, tracking_uri: str) -> str:
    """Run the `trk` CLI as a user would; its stdout."""
    import subprocess

    argv = [str(BIN / "trk"), *args, "--tracking-uri", tracking_uri]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


async def drive(
    cfg: Config, replicas: list[Proc], tracking_uri: str, labeller: labels.Labeller
) -> tuple[list[Answer], float]:
    """Load across the replicas (labelled as it goes), promote halfway, then drain each
    replica as k8s would."""
    gen = LoadGenerator([r.url for r in replicas], cfg.sticky_header, cfg.users, cfg.connections)
    load = asyncio.create_task(gen.run())
    labelling = asyncio.create_task(labeller.run(gen.answers, lambda: sorted(gen.live)))
    await asyncio.sleep(cfg.duration_s / 2)
    # Measured from the command's start: an upper bound that includes the CLI's own start-up.
    promoted_at = time.monotonic()
    await asyncio.to_thread(trk_cli, "models", "promote", cfg.model, tracking_uri=tracking_uri)
    await asyncio.sleep(cfg.duration_s / 2)
    for i, replica in enumerate(replicas):
        if i == len(replicas) - 1:
            gen.stop()
            await load
            labelling.cancel()  # labels what came in last, while one replica still serves
            with contextlib.suppress(asyncio.CancelledError):
                await labelling
        else:
            gen.remove(i)  # the endpoints controller drops the pod; in-flight requests finish
        await asyncio.sleep(cfg.pre_stop_s)
        await asyncio.to_thread(replica.drain, grace_period_s())
    return await load, promoted_at


def evaluate(
    cfg: Config,
    answers: list[Answer],
    promoted_at: float,
    versions,
    report,
    procs,
    labeller: labels.Labeller,
):
    """Checks (name -> passed) and figures, from the answers, the report and the processes."""
    replicas = [p for p in procs if p.name.startswith("replica-")]
    stick = checks.sticky(answers, cfg.replicas)
    picked = checks.pickup(answers, promoted_at, versions[0], versions[1], cfg.replicas)
    sums = checks.report_sums(report, answers, cfg.replicas)
    grace = grace_period_s()
    bound = cfg.reload_interval_s + cfg.load_allowance_s
    span = max(a.finished for a in answers) - min(a.started for a in answers)
    figures = checks.latency_figures(answers, span) | {
        "per_variant": dict(Counter(a.variant for a in answers)),
        "per_replica": dict(Counter(str(a.replica) for a in answers)),
        "users_on_every_replica": stick["users_on_every_replica"],
        "pickup_s": {str(r): None if s is None else round(s, 2) for r, s in picked.items()},
        "replica_ready_s": [round(p.ready_s, 2) for p in replicas],
        "drain_s": [round(p.drain_s, 2) for p in replicas],
        "exit_codes": [p.exit_code for p in replicas],
        "report": sums,
        "bulk_delay_s": cfg.bulk_delay_s,
    }
    failures = checks.failed(answers)
    results = {
        "no_request_failed": not failures and bool(answers),
        "sticky_same_variant_on_every_replica": not stick["users_with_two_variants"]
        and stick["users_on_every_replica"] > 0,
        "promotion_picked_up_by_every_replica": all(
            s is not None and s <= bound for s in picked.values()
        ),
        "report_sums_all_replicas": all(v["ok"] for v in sums.values()),
        "sigterm_drained_within_grace": all(
            p.exit_code == 0 and p.drain_s < grace for p in replicas
        ),
    }
    figures["failures"] = [asdict(a) for a in failures[:5]]
    label_results, label_figures = labels.checks(answers, labeller, report)
    return results | label_results, figures | label_figures


def rehearse(cfg: Config) -> dict:
    """Run the whole rehearsal; {"checks": {...}, "figures": {...}}."""
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    procs: list[Proc] = []
    try:
        server = start_stores(cfg, procs)
        versions = register_models(server.url, cfg.model)
        procs += start_replicas(cfg, server.url)
        replicas = procs[-cfg.replicas :]
        labeller = labels.Labeller([r.url for r in replicas])
        answers, promoted_at = asyncio.run(drive(cfg, replicas, server.url, labeller))
        time.sleep(cfg.bulk_delay_s)  # labels that arrive long after the answers and the pods
        late = labeller.late_file(cfg.workdir / "late-labels.jsonl")
        trk_cli("ab", "label", cfg.model, "--file", str(late), tracking_uri=server.url)
        args = ("ab", "report", cfg.model, "--metric", "error_rate", "--format", "json")
        report = orjson.loads(trk_cli(*args, tracking_uri=server.url))
        results, figures = evaluate(cfg, answers, promoted_at, versions, report, procs, labeller)
        figures["report_table"] = trk_cli(
            *args[:3], "--metric", "error_rate", tracking_uri=server.url
        )
        return {"checks": results, "figures": figures, "workdir": str(cfg.workdir)}
    finally:
        stop_all(procs)


def start_stores(cfg: Config, procs: list[Proc]) -> Proc:
    """S3 (moto's server unless an endpoint is given), a bucket, and `trk server` on it;
    every process started is added to `procs` at once (so a failure stops them too)."""
    s3 = cfg.s3_endpoint
    if s3 is None:
        procs.append(start_moto(cfg.workdir))
        s3 = procs[-1].url
    make_bucket(s3, cfg.bucket)
    procs.append(start_server(cfg, s3))
    os.environ.update(S3_ENV | {"TRK_S3_ENDPOINT_URL": s3})  # this process logs models
    return procs[-1]


def stop_all(procs: list[Proc]) -> None:
    """Drain what still runs (moto is only killed), newest first."""
    for proc in reversed(procs):
        if proc.popen is not None and proc.popen.poll() is None and proc.name != "moto":
            proc.drain(10.0)
        proc.kill()


def markdown(result: dict) -> str:
    """The figures and checks as a markdown table for docs/performance.md."""
    f = result["figures"]
    rows = [
        ("requests (3 replicas, split 50/50, sticky)", f["requests"]),
        ("throughput, all replicas", f"{f['throughput_rps']} req/s"),
        ("client latency p50 / p99", f"{f['latency_p50_ms']} / {f['latency_p99_ms']} ms"),
        ("answers per variant", f["per_variant"]),
        ("users seen on every replica", f["users_on_every_replica"]),
        ("promotion served everywhere after (s from `trk models promote` start)", f["pickup_s"]),
        ("replica cold start to ready (s)", f["replica_ready_s"]),
        ("SIGTERM to exit (s) / exit codes", f"{f['drain_s']} / {f['exit_codes']}"),
        (
            "labelled live on a random replica (twice / reached another replica)",
            f"{f['labelled_live']} ({f['labelled_live_twice']} / {f['labels_to_another_replica']})",
        ),
        (
            f"labelled in bulk {f['bulk_delay_s']:g} s after the replicas stopped",
            f["labelled_in_bulk"],
        ),
        ("labelled / correct per variant: clients", f["labels_expected"]),
        ("labelled / correct per variant: `trk ab report`", f["labels_reported"]),
    ]
    lines = ["| figure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "| check | result |", "|---|---|"]
    lines += [f"| {k} | {'pass' if ok else 'FAIL'} |" for k, ok in result["checks"].items()]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend-store-uri", required=True, help="PostgreSQL URI for trk server")
    parser.add_argument("--s3-endpoint", default=None, help="S3 endpoint (default: start moto)")
    parser.add_argument("--duration-s", type=float, default=Config.duration_s)
    parser.add_argument("--connections", type=int, default=Config.connections)
    parser.add_argument(
        "--bulk-delay-s",
        type=float,
        default=Config.bulk_delay_s,
        help="Wait this long after the load before the bulk labels",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="Logs of every process")
    parser.add_argument("--json-out", type=Path, default=None)
    ns = parser.parse_args()
    cfg = Config(ns.backend_store_uri, ns.s3_endpoint, duration_s=ns.duration_s)
    cfg.connections, cfg.bulk_delay_s = ns.connections, ns.bulk_delay_s
    if ns.workdir:
        cfg.workdir = ns.workdir
    result = rehearse(cfg)
    if ns.json_out:
        ns.json_out.write_text(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    print(markdown(result))
    print(result["figures"]["report_table"])
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
