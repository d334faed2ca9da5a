"""The serving-run contract: what `trk-serve` writes to the tracking store and `trk ab`,
the dashboard and the gate read back. The writer and every reader import these names."""

from __future__ import annotations

import math
from bisect import bisect_right

# Variants, the aliases they serve by default, and the alias a promotion leaves behind.
CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous"
MODES = ("single", "shadow", "split")

SERVING_TAG = "trk.serving"  # "true" on every serving run
PARAMS = ("model_uri", "model_version", "variant", "mode", "weight")
# Summed across windows and replicas (exact), never averaged.
COUNT_KEYS = ("requests", "errors", "labelled", "correct", "shadow_compared", "shadow_agreed")
# Shadow mode, on the challenger's windows: labelled requests both variants answered, those
# both got right, and those only the champion / only the challenger got right (the paired test).
PAIRED_KEYS = ("paired_labelled", "paired_both", "paired_champion_only", "paired_challenger_only")
# Per-window figures: weighted by requests when windows are combined.
WINDOW_KEYS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "mae", "rmse")
# The version a window was served by: a metric, because a reload can change it mid-run.
VERSION_KEY = "model_version"
PRED_PREFIX = "pred."  # pred.<class>: predicted-class counts per window
DRIFT_PREFIX = "drift_"  # drift_bin_<feature>_<i>, drift_rows_<feature>, drift_psi_<feature>
# latency_hist.<k>: requests whose latency fell in [2^(k/4), 2^((k+1)/4)) ms this window
# (counts, summed exactly over windows and replicas; a latency guard's order statistics).
LATENCY_HIST_PREFIX = "latency_hist."
_HIST_PER_OCTAVE = 4
_HIST_RANGE = (-40, 80)  # 1 us .. 1,000 s; latencies outside are counted at the ends


LATENCY_BUCKET_LOW = _HIST_RANGE[0]


def _edge_ms(k: int) -> float:
    """Where bucket `k` starts: it holds [2^(k/4), 2^((k+1)/4)) ms."""
    return float(2.0 ** (k / _HIST_PER_OCTAVE))


# Where buckets lo+1 .. hi start, in milliseconds (the writer bisects these).
LATENCY_EDGES_MS = tuple(map(_edge_ms, range(_HIST_RANGE[0] + 1, _HIST_RANGE[1] + 1)))


def latency_bucket(ms: float) -> int:
    """The histogram bucket of a latency in milliseconds (by the edges readers use)."""
    return LATENCY_BUCKET_LOW + bisect_right(LATENCY_EDGES_MS, ms)


def latency_bucket_edges(k: int) -> tuple[float, float]:
    """The [low, high) edges in milliseconds of histogram bucket `k`; the end buckets hold
    what was clipped into them, so they reach 0 and infinity (bounds stay valid)."""
    low = 0.0 if k <= _HIST_RANGE[0] else _edge_ms(k)
    high = math.inf if k >= _HIST_RANGE[1] else _edge_ms(k + 1)
    return low, high


def serving_experiment(model_name: str) -> str:
    """The default experiment of a registered model's serving runs."""
    return f"serving/{model_name}"
