"""Text renderings of an A/B report: a table for people, JSON for scripts."""

from __future__ import annotations

import io
import math

import orjson

from trk.ab.report import BETTER, WORSE, Report, VariantSummary


def render_json(report: Report) -> str:
    """The whole report as indented JSON (NaN and inf become null)."""
    return orjson.dumps(_clean(report.to_dict()), option=orjson.OPT_INDENT_2).decode()


def _clean(obj: object) -> object:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):  # JSON keys are text (the latency histogram's are bucket numbers)
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def pct(value: float | None, ci: tuple[float, float] | None = None) -> str:
    """0.9512 [0.94, 0.96] -> '95.12% [94.0, 96.0]'."""
    if value is None:
        return "-"
    text = f"{value:.2%}"
    return f"{text} [{ci[0]:.1%}, {ci[1]:.1%}]" if ci else text


def num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, fmt)


def variant_row(v: VariantSummary) -> dict[str, str]:
    """One variant as display strings (shared by the table and the HTML report)."""
    row = {
        "variant": v.variant,
        "version": ",".join(v.versions) or "-",
        "replicas": str(v.replicas),
        "requests": str(v.requests),
        "error rate (95% CI)": pct(v.error_rate, v.error_rate_ci),
        "p50 ms": num(v.latency_p50_ms),
        "p99 ms": num(v.latency_p99_ms),
        "shadow agreement": pct(v.shadow_agreement, v.shadow_agreement_ci),
        "labelled": str(v.labelled),
        "accuracy (95% CI)": pct(v.accuracy, v.accuracy_ci),
    }
    if v.mae is not None:
        row["mae"] = num(v.mae, ".4g")
        row["rmse"] = num(v.rmse, ".4g")
    return row


def comparison_rows(report: Report) -> list[dict[str, str]]:
    """challenger - champion per metric as display strings."""
    return [
        {
            "challenger - champion": c.metric,
            "champion": num(c.champion, ".4g"),
            "challenger": num(c.challenger, ".4g"),
            "difference": num(c.difference, "+.4g"),
            "95% CI" if report.alpha == 0.05 else f"{1 - report.alpha:.0%} CI": (
                f"[{num(c.ci_low, '+.4g')}, {num(c.ci_high, '+.4g')}]"
            ),
            "p-value": num(c.p_value, ".3g"),
            "method": c.method,
        }
        for c in report.comparisons
    ]


def render_table(report: Report, width: int = 180) -> str:
    """Variant table, difference table and the verdict line, as plain text."""
    from rich.console import Console
    from rich.table import Table

    out = io.StringIO()
    console = Console(file=out, width=width, no_color=True, highlight=False)
    since = f", last {report.since}" if report.since else ""
    console.print(f"A/B report for {report.model} ({report.experiment}{since})")
    for rows in ([variant_row(v) for v in report.variants], comparison_rows(report)):
        if not rows:
            continue
        table = Table(show_edge=False, pad_edge=False, header_style="bold")
        for col in rows[0]:
            table.add_column(col)
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
    console.print(method_line(report))
    if report.inverse_propensity:
        console.print(propensity_line(report))
    console.print(verdict_line(report))
    return out.getvalue()


def method_line(report: Report) -> str:
    """Which versions the verdict compares, how, and where the labels came from."""
    if report.candidate_version is None:
        versions = "no challenger version to compare"
    else:
        versions = (
            f"version {report.candidate_version} (challenger) vs version "
            f"{report.baseline_version} (champion)"
        )
    how = (
        f"sequential, horizon {report.horizon:g}"
        if report.method == "sequential"
        else "fixed horizon"
    )
    corrected = f" ({report.corrected_labels} corrected)" if report.labels == "store" else ""
    return (
        f"compared: {versions}; {how}, at least {report.min_sample} per variant; "
        f"labels from the {'store' if report.labels == 'store' else 'serving windows'}" + corrected
    )


def propensity_line(report: Report) -> str:
    """Accuracy weighted by 1 / routing probability per version (trk.ab.propensity)."""

    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.4f}"

    parts = [
        f"{r['variant']} v{r['version']} {fmt(r['ips_accuracy'])} "
        f"(self-normalised {fmt(r['snips_accuracy'])}, {r['labelled']} labels)"
        for r in sorted(
            report.inverse_propensity, key=lambda r: (r["variant"] != "champion", r["version"])
        )
    ]
    return "inverse-propensity accuracy: " + "; ".join(parts)


def verdict_line(report: Report) -> str:
    v = report.verdict
    mark = {BETTER: "+", WORSE: "-"}.get(v.outcome, "=")
    return f"verdict [{mark}] on {v.metric}: {v.message}"
