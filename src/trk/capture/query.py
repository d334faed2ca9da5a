"""DuckDB over one model's captures and labels, reading only the partitions in the window.

Local files are read by DuckDB itself; S3 objects through pyarrow's S3 filesystem as an Arrow
dataset DuckDB scans, so no DuckDB extension is ever downloaded (httpfs is not needed). The
answers and labels are unnested to one row per answered row, with classes in the same
canonical text as the store's prediction log (`1`, `1.0`, `"1"` and `true` all join alike).
"""

from __future__ import annotations

import time
from typing import Any

from trk.capture import layout
from trk.capture.target import Target
from trk.exceptions import MissingDependency

# JSON scalar -> number (bools as 0/1, numeric text parsed) and -> the class's canonical text.
_MACROS = """
CREATE MACRO jnum(j) AS CASE json_type(j)
    WHEN 'BOOLEAN' THEN CASE WHEN CAST(j AS VARCHAR) = 'true' THEN 1.0 ELSE 0.0 END
    WHEN 'VARCHAR' THEN TRY_CAST(trim(json_extract_string(j, '$')) AS DOUBLE)
    WHEN 'BIGINT' THEN CAST(CAST(j AS VARCHAR) AS DOUBLE)
    WHEN 'UBIGINT' THEN CAST(CAST(j AS VARCHAR) AS DOUBLE)
    WHEN 'DOUBLE' THEN CAST(CAST(j AS VARCHAR) AS DOUBLE)
    ELSE NULL END;
CREATE MACRO ckey(n, j) AS CASE
    WHEN isfinite(n) AND n = trunc(n) AND abs(n) < 9.2e18 THEN CAST(CAST(n AS BIGINT) AS VARCHAR)
    WHEN isfinite(n) THEN CAST(n AS VARCHAR)
    ELSE json_extract_string(j, '$') END;
CREATE MACRO elems(j) AS CASE WHEN json_type(j) = 'ARRAY'
    THEN json_transform(j, '["JSON"]') ELSE [j] END;
"""
_EMPTY = "SELECT * FROM empty_{0}"
# The usual answer, one row of one class (an integer, or text that is no number): its class
# is its text, no JSON parsing needed (10 M rows: seconds saved).
_ONE_CLASS = r'\[(0|-?[1-9][0-9]{0,17}|"[A-Za-z_][^"\\\[\]]*")\]'
# Whether any request was answered by both variants (shadow mode): a sample of challenger ids
# probed against the champion's, so split traffic skips the pair joins.
_SHADOWED = """
SELECT count(*) FROM (SELECT request_id FROM c WHERE variant = 'challenger'
                      AND prediction IS NOT NULL LIMIT 10000) b
WHERE EXISTS (SELECT 1 FROM c a WHERE a.request_id = b.request_id
              AND a.variant = 'champion' AND a.prediction IS NOT NULL)
"""
# An answer's rows: `cls` its class's canonical text (classifiers), `val` its value
# (regressors: every row a number, one with a fraction); one-class answers skip the JSON.
_ROWS = """
WITH a AS (SELECT {keep}, prediction, regexp_full_match(prediction, '{one}') AS fast
           FROM ({source})),
     e AS (SELECT {keep}, elems(CAST(prediction AS JSON)) AS e FROM a WHERE NOT fast),
     r AS (SELECT *, list_bool_and(list_transform(e, lambda x: json_type(x) IN
                      ('BIGINT', 'UBIGINT', 'DOUBLE')))
                 AND list_bool_or(list_transform(e, lambda x: json_type(x) = 'DOUBLE')) AS reg
           FROM e),
     u AS (SELECT {keep}, reg, unnest(e) AS j, unnest(range(len(e))) AS row FROM r),
     n AS (SELECT *, jnum(j) AS num FROM u)
SELECT {keep}, 0 AS row, false AS reg, trim(prediction, '[]"') AS cls, NULL::DOUBLE AS val
FROM a WHERE fast
UNION ALL
SELECT {keep}, row, reg, CASE WHEN reg THEN NULL ELSE ckey(num, j) END AS cls,
       CASE WHEN reg THEN num ELSE NULL END AS val
FROM n
"""
WINDOW_MS = 60_000  # trk-serve's default report window
# At most this many windows per variant: the bootstrap of per-window figures (latency) costs
# 2000 resamples times the windows, and a hundred windows estimate it as well as more.
MAX_WINDOWS = 100


def _rows(source: str, keep: str) -> str:
    return _ROWS.format(source=source, keep=keep, one=_ONE_CLASS)


def window_ms(first: int | None, last: int | None) -> int:
    """A minute, or whole minutes enough to keep the span within MAX_WINDOWS windows."""
    if first is None or last is None:
        return WINDOW_MS
    minutes = -(-(last - first + 1) // (WINDOW_MS * MAX_WINDOWS))
    return WINDOW_MS * max(1, minutes)


def duckdb() -> Any:
    try:
        import duckdb as db
    except ImportError as exc:
        raise MissingDependency("Capture reports need duckdb: pip install 'trk[capture]'") from exc
    return db


def capture_keys(target: Target, model: str, since_ms: int | None) -> list[str]:
    """Published capture files of `model` whose hour may hold rows at or after `since_ms`."""
    if since_ms is None:
        prefixes = [layout.model_prefix(model)]
    else:
        dates = layout.dates_since(since_ms, int(time.time() * 1000) + 3_600_000)
        prefixes = [f"{layout.model_prefix(model)}date={d}/" for d in dates]
    keys = []
    for prefix in prefixes:
        for key in target.keys(prefix):
            where = layout.parse_key(key)
            if where is not None and layout.in_window(where[1], where[2], since_ms):
                keys.append(key)
    return keys


def _span(keys: list[str], since_ms: int | None) -> tuple[int | None, int | None]:
    """The time the partitions cover (from their names: no scan), cut at `since_ms`."""
    hours = [layout.hour_start_ms(w[1], w[2] or 0) for w in map(layout.parse_key, keys) if w]
    if not hours:
        return None, None
    return max(min(hours), since_ms or 0), max(hours) + 3_600_000 - 1


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class CaptureQuery:
    """A DuckDB connection with the model's rows as tables: `c` (a view: one row per answer),
    `lab` (one per labelled row, the first label of an id only), `pl` (the answered rows that
    have a label, joined with it) and `answers` (answered rows counted per variant, version,
    window of `window_ms` and class)."""

    def __init__(self, target: Target, model: str, since_ms: int | None = None) -> None:
        self.model, self.since_ms = layout.check_model(model), since_ms
        self.con = duckdb().connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        self.con.execute("SET enable_progress_bar = false")  # it writes to a CLI's stderr
        self.con.execute(_MACROS)
        keys = capture_keys(target, model, since_ms)
        self.span = _span(keys, since_ms)
        self.files = self._source("captures", target, keys, layout.capture_schema())
        self._source(
            "labels",
            target,
            target.keys(layout.model_prefix(model, labels=True)),
            layout.label_schema(),
        )
        self._tables()

    def _source(self, name: str, target: Target, keys: list[str], schema: Any) -> int:
        pa = layout.pyarrow()
        if not keys:
            self.con.register(f"empty_{name}", pa.Table.from_batches([], schema=schema))
            self.con.execute(f"CREATE VIEW {name} AS {_EMPTY.format(name)}")
            return 0
        fs, paths = target.paths(keys)
        if fs is None:
            files = ", ".join(_quote(p) for p in paths)
            self.con.execute(
                f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{files}], "
                "hive_partitioning = false)"
            )
        else:
            import pyarrow.dataset as ds

            self.con.register(
                name, ds.dataset(paths, schema=schema, filesystem=fs, format="parquet")
            )
        return len(keys)

    def _tables(self) -> None:
        since = (
            f"AND timestamp >= make_timestamptz({int(self.since_ms) * 1000})"
            if self.since_ms
            else ""
        )
        self.con.execute(f"""
        CREATE TEMP VIEW c AS
        SELECT request_id, epoch_ms(timestamp) AS ts, variant, version,
               routing_probability AS p, status, latency_ms, prediction, inputs
        FROM captures WHERE model = {_quote(self.model)} {since};

        CREATE TEMP TABLE lab AS
        WITH f AS (SELECT request_id, arg_min(label, timestamp) AS label,
                          epoch_ms(min(timestamp)) AS lts
                   FROM labels GROUP BY request_id),
             u AS (SELECT request_id, lts, unnest(elems(CAST(label AS JSON))) AS j,
                          unnest(range(len(elems(CAST(label AS JSON))))) AS row FROM f),
             n AS (SELECT *, jnum(j) AS num FROM u)
        SELECT request_id, row, lts, ckey(num, j) AS label,
               CASE WHEN isfinite(num) THEN num ELSE NULL END AS lval
        FROM n;
        """)
        self.window_ms = window_ms(*self.span)
        # Answers counted per (variant, version, window, answer text) first: a few distinct
        # answers per window, so only those are parsed, not every row.
        grouped = (
            f"SELECT variant, version, ts // {self.window_ms} AS step, prediction, "
            "count(*) AS n FROM c WHERE prediction IS NOT NULL GROUP BY ALL"
        )
        labelled = (
            "SELECT request_id, ts, variant, version, p, prediction FROM c "
            "WHERE prediction IS NOT NULL AND request_id IN (SELECT request_id FROM lab)"
        )
        self.con.execute(f"""
        CREATE TEMP TABLE answers AS {_rows(grouped, "variant, version, step, n")};
        CREATE TEMP TABLE pl AS
        SELECT * FROM ({_rows(labelled, "request_id, ts, variant, version, p")})
        JOIN lab USING (request_id, row);
        """)
        self.shadow = bool(self.rows(_SHADOWED)[0][0])

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = self.con.execute(sql).fetchall()
        return found

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> CaptureQuery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
