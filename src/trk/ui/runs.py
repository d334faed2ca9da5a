"""The runs pages: an experiment's runs table, one run, and runs compared side by side.

Everything is read through the tracking client over the server's own store: the same
`search_runs` filter and order_by strings as the API and the CLI, and no other query path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from trk.ab.compare import RunComparison, compare_runs
from trk.entities import Experiment, Run
from trk.exceptions import InvalidParameter
from trk.tracking.client import Client
from trk.ui.charts import chart

PAGE_SIZE = 100
# Attribute columns every runs table shows, with the order_by key that sorts on each.
ATTRIBUTE_COLUMNS = (
    ("Run", "attributes.run_name"),
    ("Status", "attributes.status"),
    ("Started", "attributes.start_time"),
)


@dataclass
class Column:
    """A sortable column header: its label, the link that sorts by it, and the arrow shown."""

    label: str
    href: str
    arrow: str = ""


@dataclass
class RunsTable:
    experiment: Experiment
    filter: str
    order_by: str
    runs: list[Run] = field(default_factory=list)
    param_keys: list[str] = field(default_factory=list)
    metric_keys: list[str] = field(default_factory=list)
    columns: dict[str, Column] = field(default_factory=dict)
    error: str | None = None
    next_href: str | None = None
    attribute_keys: tuple[str, ...] = tuple(key for _, key in ATTRIBUTE_COLUMNS)


def quoted_key(entity: str, key: str) -> str:
    """`metrics.`my key`` : backticks let any key through the search grammar."""
    return f"{entity}.`{key}`"


def _query(experiment_id: str, **params: str) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"/experiments/{experiment_id}" + (f"?{urlencode(kept)}" if kept else "")


def _column(table: RunsTable, label: str, key: str) -> Column:
    """Header link: the first click sorts descending, the next one ascending."""
    current = table.order_by.strip()
    if current == f"{key} DESC":
        order, arrow = f"{key} ASC", " \u25bc"
    else:
        order, arrow = f"{key} DESC", " \u25b2" if current in (key, f"{key} ASC") else ""
    href = _query(table.experiment.experiment_id, filter=table.filter, order_by=order)
    return Column(label, href, arrow)


def _columns(table: RunsTable) -> dict[str, Column]:
    cols = {key: _column(table, label, key) for label, key in ATTRIBUTE_COLUMNS}
    for key in table.param_keys:
        cols[f"param:{key}"] = _column(table, key, quoted_key("params", key))
    for key in table.metric_keys:
        cols[f"metric:{key}"] = _column(table, key, quoted_key("metrics", key))
    return cols


def runs_table(
    client: Client, experiment_id: str, filter_string: str, order_by: str, page_token: str
) -> RunsTable:
    """One page of an experiment's runs; a malformed filter becomes the page's message."""
    table = RunsTable(client.get_experiment(experiment_id), filter_string, order_by)
    try:
        page = client.search_runs(
            [experiment_id],
            filter_string,
            max_results=PAGE_SIZE,
            order_by=[order_by] if order_by.strip() else None,
            page_token=page_token or None,
        )
    except InvalidParameter as exc:
        table.error = exc.message
    else:
        table.runs = list(page)
        if page.token:
            table.next_href = _query(
                experiment_id, filter=filter_string, order_by=order_by, page_token=page.token
            )
    table.param_keys = sorted({k for r in table.runs for k in r.data.params})
    table.metric_keys = sorted({k for r in table.runs for k in r.data.metrics})
    table.columns = _columns(table)
    return table


@dataclass
class RunPage:
    run: Run
    experiment: Experiment
    charts: list[dict[str, Any]]


def metric_charts(client: Client, runs: Sequence[Run], keys: Sequence[str]) -> list[dict[str, Any]]:
    """One chart per metric key, each run's history over steps as one series."""
    charts = []
    for key in keys:
        series = {
            _label(run): [
                (m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)
            ]
            for run in runs
            if key in run.data.metrics
        }
        charts.append(chart(key, series))
    return charts


def _label(run: Run) -> str:
    """Series names must differ even when two runs share a name."""
    return f"{run.info.run_name or 'run'} ({run.info.run_id[:8]})"


def run_page(client: Client, run_id: str) -> RunPage:
    run = client.get_run(run_id)  # NotFound -> the 404 page
    experiment = client.get_experiment(run.info.experiment_id)
    return RunPage(run, experiment, metric_charts(client, [run], sorted(run.data.metrics)))


@dataclass
class ComparePage:
    comparison: RunComparison
    runs: list[Run]
    charts: list[dict[str, Any]]


def parse_run_ids(values: Sequence[str]) -> list[str]:
    """`?runs=a,b` and `?runs=a&runs=b` (the runs table's checkboxes) both work."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def compare_page(client: Client, run_ids: Sequence[str]) -> ComparePage:
    """Params and latest metrics side by side (the CLI's comparison), metrics overlaid."""
    comparison = compare_runs(client, run_ids)  # refuses fewer than two, names unknown ids
    runs = [client.get_run(r) for r in comparison.run_ids]
    keys = sorted({k for r in runs for k in r.data.metrics})
    return ComparePage(comparison, runs, metric_charts(client, runs, keys))
