"""Serving windows read back from the tracking store and summed per variant.

Every serving process logs one run per variant; each report window is one `step` of its
metrics. Counts (requests, errors, labelled, correct, ...) are summed across windows and
replicas exactly; latency percentiles cannot be summed, so they are kept per window and
weighted by the window's request count.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trk.entities import Run, ViewType
from trk.exceptions import InvalidParameter, NotFound
from trk.serving_contract import (
    CHAMPION,
    COUNT_KEYS,
    DRIFT_PREFIX,
    LATENCY_HIST_PREFIX,
    PAIRED_KEYS,
    PRED_PREFIX,
    VERSION_KEY,
    WINDOW_KEYS,
    serving_experiment,
)

if TYPE_CHECKING:
    from trk.tracking.client import Client

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, flag: str = "duration") -> float:
    """'90s', '15m', '1h', '2d', '1w' -> seconds."""
    m = _DURATION.match(text if isinstance(text, str) else "")
    if not m:
        raise InvalidParameter(f"Bad {flag} {text!r}: use a number and s, m, h, d or w (e.g. 1h)")
    return float(m[1]) * _SECONDS[m[2]]


@dataclass
class Window:
    """One report window of one run: its step, end time and metric values."""

    run_id: str
    step: int
    timestamp: int
    values: dict[str, float] = field(default_factory=dict)
    version: str = ""  # the model version that served it
    process: str = ""  # host:pid of the serving process (pairs shadow windows)

    def get(self, key: str) -> float:
        return self.values.get(key, 0.0)


@dataclass
class VariantWindows:
    """All windows of one variant across the replicas' runs."""

    variant: str
    run_ids: list[str] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)
    processes: set[str] = field(default_factory=set)  # host:pid of each serving process
    windows: list[Window] = field(default_factory=list)
    # Label counts from the store's join of the shared prediction log (`trk.ab.joined`);
    # where set, they replace the windows' labelled/correct.
    joined: dict[str, float] | None = None

    def total(self, key: str, where: str | None = None) -> int:
        """Sum of a count metric over every window (only those having `where`, if given)."""
        if self.joined is not None and key in self.joined:
            return int(self.joined[key])
        wins = self.windows if where is None else [w for w in self.windows if where in w.values]
        return int(round(sum(w.get(key) for w in wins)))

    def keys(self) -> set[str]:
        return {k for w in self.windows for k in w.values}

    def weighted(self, key: str, weight_key: str) -> list[tuple[float, float]]:
        """(value, weight) per window that has `key` and a positive weight."""
        return [
            (w.values[key], w.get(weight_key))
            for w in self.windows
            if key in w.values and w.get(weight_key) > 0
        ]

    def by_step(self) -> dict[int, list[Window]]:
        """Windows of every replica grouped by window number, for plots over time."""
        grouped: dict[int, list[Window]] = defaultdict(list)
        for w in self.windows:
            grouped[w.step].append(w)
        return dict(sorted(grouped.items()))

    def latency_hist(self) -> dict[int, int]:
        """Latency bucket -> requests, summed over every window (`latency_hist.<k>`)."""
        counts: dict[int, int] = defaultdict(int)
        for w in self.windows:
            for k, v in w.values.items():
                if k.startswith(LATENCY_HIST_PREFIX):
                    counts[int(k[len(LATENCY_HIST_PREFIX) :])] += int(v)
        return dict(sorted(counts.items()))

    def prediction_counts(self) -> dict[str, int]:
        """Predicted class -> count, from the `pred.<label>` window metrics."""
        counts: dict[str, int] = defaultdict(int)
        for w in self.windows:
            for k, v in w.values.items():
                if k.startswith(PRED_PREFIX):
                    counts[k[len(PRED_PREFIX) :]] += int(v)
        return dict(sorted(counts.items()))


def serving_experiment_name(model: str, experiment: str | None = None) -> str:
    """`serving/<model>` unless overridden."""
    return experiment or serving_experiment(model)


def find_serving_runs(client: Client, model: str, experiment: str | None = None) -> list[Run]:
    """Every serving run (any status) in the model's serving experiment."""
    name = serving_experiment_name(model, experiment)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        raise NotFound(
            f"No serving runs for model {model!r}: experiment {name!r} does not exist "
            "(is trk-serve running with a tracking store, and has a report window passed?)"
        )
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs([exp.experiment_id], "", ViewType.ACTIVE_ONLY, 1000, None, token)
        runs.extend(r for r in page if r.data.tags.get("trk.serving") == "true")
        token = page.token
        if not token:
            break
    if not runs:
        raise NotFound(f"No serving runs for model {model!r} in experiment {name!r}")
    return runs


def load_variants(
    client: Client,
    model: str,
    experiment: str | None = None,
    since_s: float | None = None,
) -> dict[str, VariantWindows]:
    """Read every serving run's windows and group them per variant."""
    cutoff = int((time.time() - since_s) * 1000) if since_s else 0
    variants: dict[str, VariantWindows] = {}
    for run in find_serving_runs(client, model, experiment):
        if run.info.end_time and run.info.end_time < cutoff:
            continue
        name = run.data.params.get("variant") or run.data.tags.get("trk.variant") or CHAMPION
        vw = variants.setdefault(name, VariantWindows(name))
        vw.run_ids.append(run.info.run_id)
        tags = run.data.tags
        process = f"{tags.get('trk.host', '')}:{tags.get('trk.pid', run.info.run_id)}"
        vw.processes.add(process)
        windows = _run_windows(client, run, cutoff)
        for w in windows:
            w.process = process
            if VERSION_KEY in w.values:
                w.version = _version(w.values[VERSION_KEY])
            else:
                w.version = run.data.params.get("model_version", "")
        vw.versions |= {w.version for w in windows if w.version}
        vw.windows.extend(windows)
    if not any(v.windows for v in variants.values()):
        since = f" in the last {since_s:g} s" if since_s else ""
        raise NotFound(f"Serving runs of {model!r} have no report windows{since} yet")
    return variants


def _run_windows(client: Client, run: Run, cutoff: int) -> list[Window]:
    keys = [
        k
        for k in run.data.metrics
        if k in COUNT_KEYS
        or k in PAIRED_KEYS
        or k in WINDOW_KEYS
        or k == VERSION_KEY
        or k.startswith((PRED_PREFIX, DRIFT_PREFIX, LATENCY_HIST_PREFIX))
    ]
    windows: dict[int, Window] = {}
    for key in keys:
        for m in client.get_metric_history(run.info.run_id, key):
            if m.timestamp < cutoff:
                continue
            w = windows.setdefault(m.step, Window(run.info.run_id, m.step, m.timestamp))
            w.values[key] = m.value
            w.timestamp = max(w.timestamp, m.timestamp)
    return [windows[s] for s in sorted(windows)]


def _version(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
