"""Side-by-side comparison of ordinary runs: params and latest metrics, differences marked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trk.exceptions import InvalidParameter

if TYPE_CHECKING:
    from trk.tracking.client import Client


@dataclass
class CompareRow:
    kind: str  # "param" | "metric"
    key: str
    values: list[str | float | None]

    @property
    def differs(self) -> bool:
        return len({repr(v) for v in self.values}) > 1


@dataclass
class RunComparison:
    run_ids: list[str]
    run_names: list[str]
    rows: list[CompareRow] = field(default_factory=list)

    def differing(self) -> list[CompareRow]:
        return [r for r in self.rows if r.differs]


def compare_runs(client: Client, run_ids: Sequence[str]) -> RunComparison:
    """Params and latest metrics of every run, one row per key (missing -> None)."""
    if len(run_ids) < 2:
        raise InvalidParameter("Compare needs at least two run ids")
    if len(set(run_ids)) != len(run_ids):
        raise InvalidParameter("The same run id was given twice")
    runs = [client.get_run(r) for r in run_ids]  # NotFound names a missing run
    out = RunComparison([r.info.run_id for r in runs], [r.info.run_name for r in runs])
    for kind, attr in (("param", "params"), ("metric", "metrics")):
        keys = sorted({k for r in runs for k in getattr(r.data, attr)})
        for key in keys:
            out.rows.append(CompareRow(kind, key, [getattr(r.data, attr).get(key) for r in runs]))
    return out


def render_comparison(cmp: RunComparison, width: int = 200, color: bool = False) -> str:
    """A text table; differing rows start with '*' and are bold on a terminal."""
    import io

    from rich.console import Console
    from rich.table import Table

    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, force_terminal=color)
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column(" ")
    table.add_column("key")
    for run_id, name in zip(cmp.run_ids, cmp.run_names, strict=True):
        table.add_column(f"{name or ''} ({run_id[:8]})")
    for row in cmp.rows:
        style = "bold yellow" if row.differs else None
        cells = [
            "" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
            for v in row.values
        ]
        table.add_row("*" if row.differs else "", f"{row.kind}s.{row.key}", *cells, style=style)
    console.print(table)
    console.print(f"{len(cmp.differing())} of {len(cmp.rows)} rows differ (marked *)")
    return out.getvalue()
