"""The rehearsal's checks and figures, computed from the answers the clients got."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from rehearsal_load import Answer, percentile


def failed(answers: list[Answer]) -> list[Answer]:
    """Requests without a 200."""
    return [a for a in answers if a.status != 200]


def sticky(answers: list[Answer], replicas: int) -> dict[str, Any]:
    """Each user key's variants across replicas: one each, or the check fails."""
    variants: dict[str, set[str]] = defaultdict(set)
    seen_on: dict[str, set[int]] = defaultdict(set)
    for a in answers:
        if a.status == 200:
            variants[a.user].add(a.variant)
            seen_on[a.user].add(a.replica)
    split = sorted(u for u, v in variants.items() if len(v) > 1)
    return {
        "users": len(variants),
        "users_on_every_replica": sum(1 for s in seen_on.values() if len(s) == replicas),
        "users_with_two_variants": split,
    }


def pickup(
    answers: list[Answer], promoted_at: float, old: str, new: str, replicas: int
) -> dict[int, float | None]:
    """Per replica: seconds from the promotion to the last champion answer still on `old`
    (0.0 when none came after it); None when the replica never answered with `new`."""
    out: dict[int, float | None] = {}
    for r in range(replicas):
        champion = [a for a in answers if a.replica == r and a.variant == "champion"]
        if not any(a.version == new and a.started > promoted_at for a in champion):
            out[r] = None
            continue
        late_old = [a.started for a in champion if a.version == old and a.started > promoted_at]
        out[r] = max(late_old, default=promoted_at) - promoted_at
    return out


def report_sums(report: dict[str, Any], answers: list[Answer], replicas: int) -> dict[str, Any]:
    """The A/B report's per-variant requests and replicas against what the clients counted."""
    counted = Counter(a.variant for a in answers if a.status == 200)
    reported: dict[str, dict[str, Any]] = {}
    for row in report["variants"]:  # one row per (variant, version): summed per variant
        v = reported.setdefault(row["variant"], {"requests": 0, "replicas": 0})
        v["requests"] += row["requests"]
        v["replicas"] = max(v["replicas"], row["replicas"])
    return {
        variant: {
            "client_count": counted.get(variant, 0),
            "report_requests": reported.get(variant, {}).get("requests"),
            "report_replicas": reported.get(variant, {}).get("replicas"),
            "ok": reported.get(variant, {}).get("requests") == counted.get(variant, 0)
            and reported.get(variant, {}).get("replicas") == replicas,
        }
        for variant in ("champion", "challenger")
    }


def latency_figures(answers: list[Answer], seconds: float) -> dict[str, float]:
    """Throughput and client-side latency over the whole run."""
    ok = [a.latency_ms for a in answers if a.status == 200]
    return {
        "requests": len(answers),
        "throughput_rps": round(len(answers) / seconds, 1) if seconds else 0.0,
        "latency_p50_ms": round(percentile(ok, 50), 2),
        "latency_p99_ms": round(percentile(ok, 99), 2),
    }
