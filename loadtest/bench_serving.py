"""Benchmark trk-serve beside the HTTP floor, a hand-written server and `mlflow models serve`.

    .venv/bin/python loadtest/bench_serving.py [--duration 5] [--repeat 1] [--only trk]
        [--ref ../main]   # also run another checkout's trk-serve (its .venv) side by side
        [--interleave]    # start the chosen servers together, measure them in turns

Every server runs as its own process on 127.0.0.1 and is driven from this process's load
generator (wrk when installed: `apt-get install wrk`; else an asyncio generator). Prints a
markdown table (requests/s, p50, p99 per server, connections and rows per request) and the
issue's goals with their measured ratios. Beside req/s it prints the server's CPU time per
request (user+sys of every process the server started over the run: uvicorn's workers and
trk-serve's log shipper included, divided by the requests answered): steadier than req/s on
a shared 2-core machine, where the load generator takes its own share. After each trk-serve
(stopped with SIGTERM) it counts the champion's rows in the prediction log against the
answers the load generator got: the log must hold every one. Bounded: about 10 minutes at
the defaults.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from bench_setup import BenchModels, build
from loadgen import LoadResult, run_load

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
FULL = [(c, r) for c in (1, 8, 32) for r in (1, 32)]
ONE = [(8, 1)]
SHIPPER = b"trk.serving.online.shipper"  # the log shipper's command line


@dataclass
class Spec:
    key: str
    name: str
    cmd: list[str]
    cells: list[tuple[int, int]]
    form: str = "inputs"  # "inputs" (positional rows) or "split" (dataframe_split)
    # also measure V2 infer on this model, same server, alternating with /invocations
    v2_model: str | None = None
    v2: dict[tuple[int, int], tuple[LoadResult, float]] = field(default_factory=dict)
    results: dict[tuple[int, int], LoadResult] = field(default_factory=dict)
    cpu_us: dict[tuple[int, int], float] = field(default_factory=dict)  # server CPU per request
    shipper_us: dict[tuple[int, int], float] = field(default_factory=dict)  # of it, the shipper
    cold_start_s: float = float("nan")
    rss_mb: float = float("nan")
    answered: int = 0  # 2xx answers the load generator got, warm-ups and probe included
    logged: int | None = None  # the champion's prediction-log rows the run added
    log_group: str = ""  # the servers of this model, whose answers `logged` is counted against


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _capture_flags() -> list[str]:
    """A fresh capture directory and spool for a trk-serve under test (trk.capture)."""
    root = Path(tempfile.mkdtemp(prefix="trk-bench-capture-"))
    return ["--capture-uri", str(root / "capture"), "--capture-spool-dir", str(root / "spool")]


def specs(m: BenchModels, ref_checkout: str | None = None) -> list[Spec]:
    py = str(BIN / "python")
    ref = [py, str(HERE / "ref_servers.py")]
    serve = [str(BIN / "trk-serve")]
    out = [
        Spec("bare_h11", "bare Starlette, constant body (h11)", [*ref, "bare"], ONE),
        Spec(
            "bare",
            "bare Starlette, constant body (uvloop+httptools)",
            [*ref, "bare", "--fast"],
            FULL,
        ),
        Spec(
            "hand_lr",
            "hand-written Starlette, LR (h11)",
            [*ref, "handwritten", "--model", str(m.pickles["lr"])],
            FULL,
        ),
        Spec(
            "mini_lr",
            "minimal plain ASGI LR: orjson, trk's numpy kernel (trk-serve's protocol)",
            [*ref, "minimal", "--model", str(m.pickles["lr"]), "--fast", "--nodelay"],
            ONE,
        ),
        Spec(
            "hand_rf",
            "hand-written Starlette, RF (h11)",
            [*ref, "handwritten", "--model", str(m.pickles["rf"])],
            ONE,
        ),
        Spec(
            "trk_lr",
            "trk-serve LR",
            [*serve, "--model-uri", "models:/iris-lr@champion"],
            FULL,
            v2_model="iris-lr",
        ),
        Spec(
            "trk_lr_profile",
            "trk-serve LR with a reference profile (drift folded per answer)",
            [*serve, "--model-uri", "models:/iris-lr-profile@champion"],
            ONE,
        ),
        Spec(
            "trk_lr_nolog",
            "trk-serve LR --no-prediction-log",
            [*serve, "--model-uri", "models:/iris-lr@champion", "--no-prediction-log"],
            ONE,
        ),
        Spec(
            "trk_lr_capture",
            "trk-serve LR --capture-uri (a local directory; the prediction log too)",
            [*serve, "--model-uri", "models:/iris-lr@champion", *_capture_flags()],
            ONE,
        ),
        Spec(
            "trk_lr_shadow",
            "trk-serve LR, shadow mode (challenger: the same model)",
            [
                *serve,
                "--model-uri",
                "models:/iris-lr@champion",
                "--mode",
                "shadow",
                "--challenger-uri",
                "models:/iris-lr@champion",
            ],
            ONE,
        ),
        Spec(
            "trk_lr_splitmode",
            "trk-serve LR, split mode 50/50 (challenger: the same model)",
            [
                *serve,
                "--model-uri",
                "models:/iris-lr@champion",
                "--mode",
                "split",
                "--challenger-uri",
                "models:/iris-lr@champion",
                "--challenger-weight",
                "0.5",
            ],
            ONE,
        ),
        Spec(
            "trk_lr_split",
            "trk-serve LR, dataframe_split body",
            [*serve, "--model-uri", "models:/iris-lr@champion"],
            ONE,
            form="split",
        ),
        Spec(
            "trk_rf",
            "trk-serve RF (100 trees)",
            [*serve, "--model-uri", "models:/iris-rf@champion"],
            ONE,
        ),
        Spec(
            "trk_lr_onnx",
            "trk-serve LR --optimize onnx",
            [*serve, "--model-uri", "models:/iris-lr@champion", "--optimize", "onnx"],
            ONE,
        ),
        Spec(
            "trk_rf_onnx",
            "trk-serve RF --optimize onnx",
            [*serve, "--model-uri", "models:/iris-rf@champion", "--optimize", "onnx"],
            ONE,
        ),
        Spec(
            "trk_lr_skops",
            "trk-serve LR saved with skops (cold start)",
            [*serve, "--model-uri", "models:/iris-lr-skops@champion"],
            ONE,
        ),
        Spec(
            "bare_w2_plain",
            "bare, plain uvicorn --workers 2 (uvloop+httptools)",
            [*ref, "bare", "--fast", "--workers", "2"],
            ONE,
        ),
        Spec(
            "bare_w2_nodelay",
            "bare, --workers 2 + TCP_NODELAY",
            [*ref, "bare", "--nodelay", "--workers", "2", "--fast"],
            ONE,
        ),
        Spec(
            "trk_lr_w2",
            "trk-serve LR --workers 2",
            [*serve, "--model-uri", "models:/iris-lr@champion", "--workers", "2"],
            ONE,
        ),
        Spec(
            "trk_torch",
            "trk-serve torch MLP",
            [*serve, "--model-uri", "models:/iris-torch@champion"],
            [(8, 1), (32, 1)],
        ),
        Spec(
            "trk_torch_b32",
            "trk-serve torch MLP --max-batch-size 32",
            [*serve, "--model-uri", "models:/iris-torch@champion", "--max-batch-size", "32"],
            [(8, 1), (32, 1)],
        ),
    ]
    if ref_checkout:  # another checkout (e.g. main before a change), each run right after
        # its counterpart here, so that both see the same host load
        ref_serve = [str(Path(ref_checkout).resolve() / ".venv" / "bin" / "trk-serve")]
        lr = ["--model-uri", "models:/iris-lr@champion"]
        shadow = [*lr, "--mode", "shadow", "--challenger-uri", "models:/iris-lr@champion"]
        refs = {
            "trk_lr": Spec(
                "ref_lr", "ref trk-serve LR", [*ref_serve, *lr], ONE, v2_model="iris-lr"
            ),
            "trk_lr_shadow": Spec(
                "ref_lr_shadow", "ref trk-serve LR, shadow mode", [*ref_serve, *shadow], ONE
            ),
        }
        out = [x for s in out for x in ([s, refs[s.key]] if s.key in refs else [s])]
    if os.path.exists(BIN / "mlflow"):
        ml = [str(BIN / "mlflow"), "models", "serve", "--env-manager", "local", "-h", "127.0.0.1"]
        out += [
            Spec(
                "mlflow_lr",
                "mlflow models serve LR",
                [*ml, "-m", str(m.mlflow_dirs["lr"])],
                ONE,
                form="split",
            ),
            Spec(
                "mlflow_rf",
                "mlflow models serve RF",
                [*ml, "-m", str(m.mlflow_dirs["rf"])],
                ONE,
                form="split",
            ),
        ]
    return out


def body(m: BenchModels, rows: int, form: str) -> bytes:
    data = m.x[(3 * m.x.shape[0] // 4) - rows // 2 :][:rows].tolist()
    if form == "split":
        return orjson.dumps({"dataframe_split": {"columns": m.columns, "data": data}})
    if form == "v2":  # flat row-major data, as tritonclient and KServe's client send it
        flat = [v for row in data for v in row]
        tensor = {"name": "x", "shape": [rows, len(data[0])], "datatype": "FP64", "data": flat}
        return orjson.dumps({"inputs": [tensor]})
    return orjson.dumps({"inputs": data})


def start(spec: Spec, m: BenchModels) -> tuple[subprocess.Popen, str]:
    port = free_port()
    port_args = ["-p", str(port)] if spec.key.startswith("mlflow") else ["--port", str(port)]
    env = {**os.environ, **m.env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*spec.cmd, *port_args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/invocations"
    probe = body(m, 1, spec.form)
    while time.perf_counter() - started < 180:
        if proc.poll() is not None:
            raise RuntimeError(f"{spec.name} exited with {proc.returncode}")
        try:
            resp = httpx.post(url, content=probe, headers={"Content-Type": "application/json"})
            if resp.status_code == 200:
                spec.answered += 1
                spec.cold_start_s = time.perf_counter() - started
                spec.rss_mb = rss_mb(proc.pid)
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    stop(proc)
    raise RuntimeError(f"{spec.name} did not answer within 180 s")


def _family(pid: int) -> list[int]:
    """A process and all its descendants (uvicorn's workers, their log shippers), from /proc."""
    parents: dict[int, list[int]] = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                parents.setdefault(int(stat[1]), []).append(int(p))
            except (OSError, IndexError):
                continue
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += parents.get(p, [])
    return pids


def logs(spec: Spec) -> bool:
    """Whether the server writes the prediction log of a registered model (a trk-serve)."""
    return (
        model_of(spec) is not None
        and "--no-prediction-log" not in spec.cmd
        and not spec.key.startswith(("bare", "hand"))
    )


def champion_rows(m: BenchModels, spec: Spec) -> int | None:
    """The champion's answers in the prediction log of the model a trk-serve spec serves."""
    uri = model_of(spec)
    if uri is None or not logs(spec):
        return None
    from sqlalchemy import create_engine, func, select

    from trk.store import schema

    log = schema.prediction_log
    model = uri.removeprefix("models:/").split("@")[0]
    engine = create_engine(m.tracking_uri)
    try:
        with engine.connect() as conn:
            # One row per answered request (its first row), whatever its rows
            where = (log.c.model == model) & (log.c.variant == "champion") & (log.c.row == 0)
            return int(conn.execute(select(func.count()).where(where)).scalar_one())
    except Exception:  # a store without the log (an older checkout): nothing to check
        return None
    finally:
        engine.dispose()


def cpu_seconds(pid: int, only: bytes | None = None) -> float:
    """user+sys seconds of a process and its descendants so far (utime and stime in /proc);
    `only`: of those whose command line holds these bytes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in _family(pid):
        try:
            if only is not None and only not in Path(f"/proc/{p}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError):
            continue
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (workers), from /proc."""
    total = 0
    for p in _family(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def measure_together(chosen: list[Spec], m: BenchModels, duration: float, repeat: int) -> None:
    """Start the servers, then measure each cell `repeat` times, the servers in turns within
    each repeat (with one server: its cells and protocols in turns), and keep the median.

    Several servers at once (`--interleave`) see the same host load in every round: the
    host's noise (up to 1.6x in CPU per request within a minute here) then moves them
    together instead of deciding which one looks faster. After SIGTERM each model's new
    prediction-log rows are counted against the answers of every server serving it."""
    first = {model_of(s): s for s in reversed(chosen) if logs(s)}  # one server per model
    before = {model: champion_rows(m, s) for model, s in first.items()}
    running: list[tuple[Spec, subprocess.Popen, list[tuple[str, str, str]]]] = []
    runs: dict[tuple[str, tuple[int, int], str], list[tuple[LoadResult, float, float]]] = {}
    try:
        for spec in chosen:
            print(f"{spec.name}", flush=True)
            try:
                proc, url = start(spec, m)
            except RuntimeError as exc:
                print(f"  skipped: {exc}", flush=True)
                continue
            running.append((spec, proc, _targets(spec, url)))
        for spec, _, targets in running:
            for conns, rows in spec.cells:
                for _, target, form in targets:
                    spec.answered += run_load(target, body(m, rows, form), conns, 1).answered
        for _ in range(repeat):
            for spec, proc, targets in running:
                for cell in spec.cells:
                    for tag, target, form in targets:
                        run = _one(spec, proc, target, body(m, cell[1], form), cell[0], duration)
                        runs.setdefault((spec.key, cell, tag), []).append(run)
        for spec, _, targets in running:
            for cell in spec.cells:
                for tag, _, _ in targets:
                    _keep(spec, cell, tag, runs[(spec.key, cell, tag)])
    finally:
        for _, proc, _ in running:
            stop(proc)
        _count_logged([s for s, _, _ in running], m, before)


def model_of(spec: Spec) -> str | None:
    return next((a for a in spec.cmd if a.startswith("models:/")), None)


def _count_logged(done: list[Spec], m: BenchModels, before: dict[str | None, int | None]) -> None:
    """Each served model's new log rows, against the answers of every server serving it."""
    for model, start_rows in before.items():
        group = [s for s in done if logs(s) and model_of(s) == model]
        logged = champion_rows(m, group[0]) if group else None
        if logged is None or start_rows is None:
            continue
        answered = sum(s.answered for s in group)
        names = ", ".join(s.key for s in group)
        for s in group:
            s.logged, s.answered, s.log_group = logged - start_rows, answered, names
        print(f"  prediction log ({names}): {logged - start_rows} for {answered} answered")


def _targets(spec: Spec, url: str) -> list[tuple[str, str, str]]:
    """(tag, url, body form) of each protocol measured on a server."""
    targets = [("", url, spec.form)]
    if spec.v2_model:  # the same server, the two protocols in turns: the host is noisy
        v2_url = url.replace("/invocations", f"/v2/models/{spec.v2_model}/infer")
        targets.append((" V2", v2_url, "v2"))
    return targets


def _one(
    spec: Spec, proc: subprocess.Popen, target: str, payload: bytes, conns: int, duration: float
) -> tuple[LoadResult, float, float]:
    """One load run: its result, the server's CPU per request and, of it, the shipper's."""
    cpu, began = cpu_seconds(proc.pid), time.perf_counter()
    shipper = cpu_seconds(proc.pid, SHIPPER)
    r = run_load(target, payload, conns, duration)
    spec.answered += r.answered
    answered = max(r.rps * (time.perf_counter() - began), 1.0)
    cpu_us = (cpu_seconds(proc.pid) - cpu) * 1e6 / answered
    return r, cpu_us, (cpu_seconds(proc.pid, SHIPPER) - shipper) * 1e6 / answered


def _keep(
    spec: Spec, cell: tuple[int, int], tag: str, done: list[tuple[LoadResult, float, float]]
) -> None:
    """The median run by req/s, kept on the spec and printed."""
    done.sort(key=lambda run: run[0].rps)
    r, cpu_us, shipper_us = done[len(done) // 2]
    if tag:
        spec.v2[cell] = (r, cpu_us)
    else:
        spec.results[cell], spec.cpu_us[cell], spec.shipper_us[cell] = r, cpu_us, shipper_us
    conns, rows = cell
    print(
        f"  {spec.key + tag:16} c={conns:<2} rows={rows:<2} {r.rps:9.0f} req/s  "
        f"cpu {cpu_us:7.1f} us/req (shipper {shipper_us:5.1f})  p50 {r.p50_ms:7.2f} "
        f"ms  p99 {r.p99_ms:7.2f} ms  errors {r.errors}",
        flush=True,
    )


def table(all_specs: list[Spec]) -> str:
    lines = [
        "| server | conns | rows | req/s | server CPU us/req | of it, log shipper | p50 ms "
        "| p99 ms | errors | cold start s | RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in all_specs:
        rows_of = [
            (s.name, cell, r, s.cpu_us[cell], s.shipper_us.get(cell, 0.0))
            for cell, r in sorted(s.results.items())
        ]
        rows_of += [
            (f"{s.name}, V2 infer", c, r, u, float("nan")) for c, (r, u) in sorted(s.v2.items())
        ]
        for name, (conns, rows), r, cpu_us, shipper_us in rows_of:
            lines.append(
                f"| {name} | {conns} | {rows} | {r.rps:,.0f} | {cpu_us:.0f} | {shipper_us:.0f} "
                f"| {r.p50_ms:.2f} | {r.p99_ms:.2f} "
                f"| {r.errors} | {s.cold_start_s:.1f} | {s.rss_mb:.0f} |"
            )
    return "\n".join(lines)


def goals(by: dict[str, Spec]) -> str:
    """The issue's goals as measured ratios, each with PASS/MISS."""

    def rps(key: str, cell=(8, 1)) -> float:
        s = by.get(key)
        return s.results[cell].rps if s and cell in s.results else float("nan")

    def cpu(key: str, cell=(8, 1)) -> float:
        s = by.get(key)
        return s.cpu_us[cell] if s and cell in s.cpu_us else float("nan")

    def v2_ratio(conns: int, rows: int, key: str = "trk_lr") -> float:
        s = by.get(key)
        cell = (conns, rows)
        if not s or cell not in s.v2 or cell not in s.results:
            return float("nan")
        return s.v2[cell][0].rps / s.results[cell].rps

    def line(text: str, value: float, target: float, unit: str = "x") -> str:
        ok = value >= target if unit == "x" else value <= target  # "x cpu": lower is better
        verdict = "PASS" if ok else ("n/a" if value != value else "MISS")
        return f"- {text}: {value:.2f}{unit} (goal {'>=' if unit == 'x' else '<='} {target}{unit}) {verdict}"

    out = [
        line(
            "server CPU per request, trk LR / bare (uvloop+httptools), 8 conns",
            cpu("trk_lr") / cpu("bare"),
            1.43,
            "x cpu",
        ),
        line(
            "server CPU per request, shadow / single (same model)",
            cpu("trk_lr_shadow") / cpu("trk_lr"),
            1.10,
            "x cpu",
        ),
        line(
            "server CPU per request, LR with a reference profile / without (drift binning)",
            cpu("trk_lr_profile") / cpu("trk_lr"),
            1.05,
            "x cpu",
        ),
        line(
            "server CPU per request, split / single (same model)",
            cpu("trk_lr_splitmode") / cpu("trk_lr"),
            1.10,
            "x cpu",
        ),
        line("trk LR / hand-written LR, 8 conns", rps("trk_lr") / rps("hand_lr"), 1.5),
        *(
            line(f"trk LR: V2 infer / /invocations, {c} conns, {r} rows", v2_ratio(c, r), 0.9)
            for c, r in ((8, 1), (8, 32))
        ),
        *(
            [line("ref LR: V2 infer / /invocations, 8 conns, 1 row", v2_ratio(8, 1, "ref_lr"), 0.9)]
            if "ref_lr" in by
            else []
        ),
        line(
            "trk LR p99 at 8 conns",
            by["trk_lr"].results.get((8, 1), LoadResult(0, 0, float("nan"), 0, "")).p99_ms
            if "trk_lr" in by
            else float("nan"),
            5,
            " ms",
        ),
        line(
            "server CPU per request, trk LR / ref LR", cpu("trk_lr") / cpu("ref_lr"), 1.0, "x cpu"
        ),
        line(
            "server CPU per request, trk shadow / ref shadow",
            cpu("trk_lr_shadow") / cpu("ref_lr_shadow"),
            1.0,
            "x cpu",
        ),
        line("trk LR --workers 2 / 1 worker", rps("trk_lr_w2") / rps("trk_lr"), 1.6),
        line(
            "torch, 32 conns: batching / no batching",
            rps("trk_torch_b32", (32, 1)) / rps("trk_torch", (32, 1)),
            2.0,
        ),
        line("trk LR --optimize onnx / mlflow LR", rps("trk_lr_onnx") / rps("mlflow_lr"), 10),
        line("trk RF --optimize onnx / mlflow RF", rps("trk_rf_onnx") / rps("mlflow_rf"), 50),
        line("trk LR default path / mlflow LR", rps("trk_lr") / rps("mlflow_lr"), 1),
        line(
            "cold start to first 200, trk LR (cloudpickle)",
            by["trk_lr"].cold_start_s if "trk_lr" in by else float("nan"),
            3,
            " s",
        ),
        line(
            "cold start to first 200, trk LR (skops, the default)",
            by["trk_lr_skops"].cold_start_s if "trk_lr_skops" in by else float("nan"),
            3,
            " s",
        ),
        line(
            "RSS with a loaded sklearn model",
            by["trk_lr"].rss_mb if "trk_lr" in by else float("nan"),
            200,
            " MB",
        ),
    ]
    if "mini_lr" in by:  # no goal: where trk's own steps begin
        out.insert(
            1,
            f"- server CPU per request, minimal LR / bare: {cpu('mini_lr') / cpu('bare'):.2f}x "
            f"cpu; trk LR / minimal LR: {cpu('trk_lr') / cpu('mini_lr'):.2f}x cpu (no goal: "
            "what trk's own steps cost over the least a Python server does)",
        )
    # One line per model, from one of its trk servers (a --ref server may share the model).
    counted = {s.log_group: s for s in by.values() if s.logged is not None and s.key[:3] == "trk"}
    for group, s in counted.items():  # wrk does not count answers in flight when it stops: >=
        ok = s.logged is not None and s.logged >= s.answered
        out.append(
            f"- prediction log after SIGTERM, {model_of(s)} ({group}): {s.logged} champion "
            f"answers for the {s.answered} answers of these servers {'PASS' if ok else 'MISS'}"
        )
    for key in ("trk_lr_w2", "bare_w2_nodelay", "bare_w2_plain"):
        s = by.get(key)
        if s and (8, 1) in s.results and s.results[(8, 1)].p50_ms >= 35:
            out.append(
                f"- STALL: {s.name} p50 {s.results[(8, 1)].p50_ms:.1f} ms (Nagle + delayed ACK)"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell (median kept)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated server keys (a key that is not one: a substring)",
    )
    parser.add_argument("--out", default=None, help="also write the markdown here")
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="start every chosen server first, then measure them in turns in each repeat "
        "(the host's noise then moves them together)",
    )
    parser.add_argument(
        "--cells", default="", help="only these connections x rows cells, e.g. 8x1,8x32"
    )
    parser.add_argument(
        "--ref", default=None, help="another trk checkout (with its .venv) to measure side by side"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="trk-bench-"))
    print(f"building models in {root}", flush=True)
    m = build(root)
    wanted = [w for w in args.only.split(",") if w]
    every = specs(m, args.ref)
    keys = {s.key for s in every}

    def picked(key: str) -> bool:  # a whole key picks itself alone, else a substring
        return not wanted or any(key == w if w in keys else w in key for w in wanted)

    chosen = [s for s in every if picked(s.key)]
    if args.cells:
        cells = {tuple(int(n) for n in c.split("x")) for c in args.cells.split(",")}
        for spec in chosen:
            spec.cells = [c for c in spec.cells if c in cells] or spec.cells[:1]
    if args.interleave:
        measure_together(chosen, m, args.duration, args.repeat)
    else:
        for spec in chosen:
            try:
                measure_together([spec], m, args.duration, args.repeat)
            except RuntimeError as exc:
                print(f"  skipped: {exc}", flush=True)
    text = table(chosen) + "\n\n" + goals({s.key: s for s in chosen})
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
