"""Prediction capture on object storage: Parquet files of every answer, labels beside them,
and the reports, exports and pruning that read them (pyarrow and DuckDB: `trk[capture]`)."""
