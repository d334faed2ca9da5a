"""Table definitions the SQL store queries. The schema itself is created by the Alembic
migrations in `trk.store.migrations`; a test checks the two never drift apart."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

# sqlite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit serial.
BigId = BigInteger().with_variant(Integer(), "sqlite")
_CASCADE: dict[str, Any] = {"ondelete": "CASCADE", "onupdate": "CASCADE"}

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("artifact_location", String(1000), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", **_CASCADE)),
    Column("key", String(250), nullable=False),
    Column("value", String(5000)),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("name", String(250)),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", **_CASCADE),
        nullable=False,
    ),
    Column("user_id", String(256)),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("artifact_uri", String(1000)),
    Column("deleted_time", BigInteger),  # migration 0009: when it entered `deleted`
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
)


def _run_fk() -> ForeignKey:
    return ForeignKey("runs.run_uuid", **_CASCADE)


params = Table(
    "params",
    metadata,
    Column("run_uuid", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(8000), nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_uuid", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(8000)),
    PrimaryKeyConstraint("run_uuid", "key"),
)

# Full history; a surrogate id because MLflow lets the same (key, step, timestamp) repeat.
METRIC_IDENTITY = ("run_uuid", "key", "step", "timestamp", "value", "is_nan")
metrics = Table(
    "metrics",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_uuid", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    # A metric point is stored once however often it is logged (migration 0008).
    Index("ux_metrics_identity", *METRIC_IDENTITY, unique=True),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_uuid", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("description", String(5000)),
    Column("creation_time", BigInteger),
    Column("last_updated_time", BigInteger),
    # Migration 0011: the highest version number given out (never reused after a delete).
    Column("last_version", Integer),
)


def _model_fk() -> ForeignKey:
    return ForeignKey("registered_models.name", **_CASCADE)


registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("name", String(256), _model_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(5000)),
    PrimaryKeyConstraint("name", "key"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(256), _model_fk(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", String(1000)),
    Column("run_id", String(32)),
    Column("status", String(20)),
    Column("description", String(5000)),
    Column("user_id", String(256)),
    Column("creation_time", BigInteger),
    Column("last_updated_time", BigInteger),
    # Migration 0003: the logged model registered, and the files pinned at registration.
    Column("model_id", String(64)),
    Column("digest", String(80)),
    Column("manifest", Text),
    # Migration 0011: MLflow's deprecated stage (None, Staging, Production, Archived).
    Column("current_stage", String(20), nullable=False, server_default="None"),
    PrimaryKeyConstraint("name", "version"),
)


def _version_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"], **_CASCADE
    )


model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(5000)),
    PrimaryKeyConstraint("name", "version", "key"),
    _version_fk(),
)

# Primary key (name, alias): an alias points at exactly one version at any time.
registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("name", String(256), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("name", "alias"),
    _version_fk(),
)

# Webhooks (migration 0004). The secret is kept only to sign deliveries; no API returns it.
webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(36), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("description", String(1000)),
    Column("url", String(500), nullable=False),
    Column("status", String(20), nullable=False),
    Column("secret", String(1000)),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
)


def _webhook_fk() -> ForeignKey:
    return ForeignKey("webhooks.webhook_id", **_CASCADE)


webhook_events = Table(
    "webhook_events",
    metadata,
    Column("webhook_id", String(36), _webhook_fk(), nullable=False),
    Column("event", String(64), nullable=False),
    Column("position", Integer, nullable=False),  # the order they were given in
    PrimaryKeyConstraint("webhook_id", "event"),
    Index("ix_webhook_events_event", "event"),
)

# Recent deliveries per webhook (pruned to the newest few), readable by every process.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("webhook_id", String(36), _webhook_fk(), nullable=False),
    Column("event", String(64), nullable=False),
    Column("model_name", String(256)),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("response_status", Integer),
    Column("last_error", String(1000)),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "creation_time"),
    Index("ix_webhook_deliveries_model", "model_name", "creation_time"),
)

# Dataset inputs of runs, and the run <-> logged model edges (migration 0005), shaped as
# MLflow's: one dataset per (experiment, name, digest), shared by every run that used it.
datasets = Table(
    "datasets",
    metadata,
    Column("dataset_uuid", String(36), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", **_CASCADE)),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("dataset_source_type", String(36), nullable=False),
    Column("dataset_source", Text, nullable=False),
    Column("dataset_schema", Text),
    Column("dataset_profile", Text),
    PrimaryKeyConstraint("experiment_id", "name", "digest"),
)

# One edge per row: DATASET -> RUN (a dataset input), RUN_INPUT -> MODEL_INPUT (a run read a
# logged model), RUN_OUTPUT -> MODEL_OUTPUT (a run produced one, at `step`).
inputs = Table(
    "inputs",
    metadata,
    Column("input_uuid", String(36), nullable=False, unique=True),
    Column("source_type", String(36), nullable=False),
    Column("source_id", String(36), nullable=False),
    Column("destination_type", String(36), nullable=False),
    Column("destination_id", String(36), nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("source_type", "source_id", "destination_type", "destination_id"),
    Index("ix_inputs_destination", "destination_type", "destination_id", "source_type"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_uuid", String(36), ForeignKey("inputs.input_uuid", **_CASCADE), nullable=False),
    Column("name", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_uuid", "name"),
)

# Metrics logged with a `model_id`: listed on the logged model, searchable by dataset.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column(
        "model_id",
        String(64),
        ForeignKey("logged_models.model_id", **_CASCADE),
        nullable=False,
    ),
    Column("metric_name", String(500), nullable=False),
    Column("metric_timestamp_ms", BigInteger, nullable=False),
    Column("metric_step", BigInteger, nullable=False),
    Column("metric_value", Float(precision=53)),
    Column("experiment_id", Integer, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("dataset_name", String(500)),
    Column("dataset_digest", String(36)),
    PrimaryKeyConstraint("model_id", "metric_name", "metric_timestamp_ms", "metric_step", "run_id"),
    Index("ix_logged_model_metrics_dataset", "dataset_name", "dataset_digest"),
)

# The shared prediction log and its labels (migration 0006): one row per answered row per
# variant, one per labelled row; joined in SQL at report time on (model, request_id, row).
prediction_log = Table(
    "prediction_log",
    metadata,
    Column("model", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("row", Integer, nullable=False),
    Column("variant", String(128), nullable=False),
    Column("version", String(128), nullable=False),
    Column("predicted", String(256)),
    Column("value", Float(precision=53)),
    Column("probability", Float(precision=53), nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("model", "request_id", "row", "variant"),
    Index("ix_prediction_log_model_time", "model", "timestamp_ms"),
)

prediction_labels = Table(
    "prediction_labels",
    metadata,
    Column("model", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("row", Integer, nullable=False),
    Column("label", String(256)),
    Column("value", Float(precision=53)),
    Column("timestamp_ms", BigInteger, nullable=False),
    # How many times this row's label was corrected (migration 0012): reports count them.
    Column("corrections", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("model", "request_id", "row"),
    Index("ix_prediction_labels_time", "timestamp_ms"),
)

# Labels for request ids with no logged prediction yet (migration 0012): never joined, moved
# into prediction_labels when their prediction arrives, dropped past their time to live.
pending_labels = Table(
    "pending_labels",
    metadata,
    Column("model", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("row", Integer, nullable=False),
    Column("label", String(256)),
    Column("value", Float(precision=53)),
    Column("timestamp_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("model", "request_id", "row"),
    Index("ix_pending_labels_model_time", "model", "timestamp_ms"),
)

# Every label correction (migration 0012), append-only: the label it replaced, when, by whom.
label_corrections = Table(
    "label_corrections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("row", Integer, nullable=False),
    Column("old_label", String(256)),
    Column("old_value", Float(precision=53)),
    Column("old_timestamp_ms", BigInteger, nullable=False),
    Column("label", String(256)),
    Column("value", Float(precision=53)),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("actor", String(255), nullable=False),
    Index("ix_label_corrections_request", "model", "request_id"),
)

# Progressive rollouts (migration 0007): one row per model, changed only by compare-and-set on
# `revision`; the lease columns let one controller act on it at a time.
rollouts = Table(
    "rollouts",
    metadata,
    Column("model", String(256), primary_key=True),
    Column("champion_version", String(128), nullable=False),
    Column("challenger_version", String(128), nullable=False),
    Column("plan", Text, nullable=False),
    Column("state", String(32), nullable=False),
    Column("step", Integer, nullable=False),
    Column("weight", Float(precision=53), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("run_id", String(32)),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("step_started_ms", BigInteger, nullable=False),
    Column("lease_owner", String(128)),
    Column("lease_expires_ms", BigInteger),
)

rollout_transitions = Table(
    "rollout_transitions",
    metadata,
    Column("model", String(256), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(32), nullable=False),
    Column("to_state", String(32), nullable=False),
    Column("weight", Float(precision=53), nullable=False),
    Column("reason", Text, nullable=False),
    Column("guards", Text, nullable=False),
    PrimaryKeyConstraint("model", "seq"),
)

# Access control (migration 0010). Passwords are argon2 hashes; tokens are kept only as
# SHA-256 digests (they are random, so a fast digest suffices and finds the row in one lookup).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False),
)

user_tokens = Table(
    "user_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
)

experiment_permissions = Table(
    "experiment_permissions",
    metadata,
    Column("experiment_id", String(64), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("permission", String(32), nullable=False),
    PrimaryKeyConstraint("experiment_id", "user_id"),
)

registered_model_permissions = Table(
    "registered_model_permissions",
    metadata,
    Column("name", String(256), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("permission", String(32), nullable=False),
    PrimaryKeyConstraint("name", "user_id"),
)

# Four eyes on protected aliases: a request, decided once by someone else.
promotion_requests = Table(
    "promotion_requests",
    metadata,
    Column("request_id", String(32), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("requested_by", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("decided_by", String(255)),
    Column("created_ms", BigInteger, nullable=False),
    Column("decided_ms", BigInteger),
)

# Every alias move, append-only evidence: who moved it, who approved, which request. No
# foreign key: the record outlives the model it describes.
alias_history = Table(
    "alias_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("version", Integer),
    Column("actor", String(255), nullable=False),
    Column("approver", String(255)),
    Column("request_id", String(32)),
    Column("timestamp_ms", BigInteger, nullable=False),
    Index("ix_alias_history_name", "name", "alias"),
)
