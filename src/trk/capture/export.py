"""`trk ab export`: the captures joined with their labels, one file for retraining."""

from __future__ import annotations

import os
from pathlib import Path

from trk.capture.query import CaptureQuery, _quote
from trk.capture.target import open_target

_JOINED = """
SELECT c.request_id, c.ts AS timestamp_ms, c.variant, c.version, c.inputs, c.prediction,
       l.label
FROM c LEFT JOIN (SELECT request_id, arg_min(label, timestamp) AS label
                  FROM labels GROUP BY request_id) l USING (request_id)
{where} ORDER BY c.ts, c.request_id, c.variant
"""


def export(
    uri: str, model: str, out: str, since_ms: int | None = None, labelled_only: bool = False
) -> int:
    """Write request id, time, variant, version, inputs, prediction and label (JSON text, null
    where unlabelled) to `out` as Parquet, atomically; returns the rows written."""
    dest = Path(out)
    tmp = dest.with_name(f".{dest.name}.tmp")
    where = "WHERE l.label IS NOT NULL" if labelled_only else ""
    with CaptureQuery(open_target(uri), model, since_ms) as q:
        sql = _JOINED.format(where=where)
        q.con.execute(f"COPY ({sql}) TO {_quote(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
        rows = q.rows(f"SELECT count(*) FROM read_parquet({_quote(str(tmp))})")[0][0]
    os.replace(tmp, dest)
    return int(rows)
