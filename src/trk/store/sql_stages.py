"""MLflow's deprecated model version stages in the SQL store: move a version to a stage
(optionally archiving the others in it) and read each stage's newest version.

Stages are kept beside aliases and never touch them: serving, rollouts and promotion follow
aliases only, so a stage transition made by an old client changes nothing that is served
through `models:/NAME@ALIAS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update

from trk.entities import ModelVersion
from trk.exceptions import InvalidParameter
from trk.stages import ACTIVE, ARCHIVED, STAGES, canonical_stage
from trk.store import schema as s
from trk.store.sql_base import now_ms
from trk.store.sql_registry import SqlRegistry

mv = s.model_versions


class SqlStages(SqlRegistry):
    """Stage methods of `SqlStore`."""

    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Moves the version to `stage`; with `archive_existing_versions`, the model's other
        versions in that (Staging or Production) stage move to Archived, in one transaction."""
        stage = canonical_stage(stage)
        if archive_existing_versions and stage not in ACTIVE:
            raise InvalidParameter(
                "Model version transition cannot archive existing model versions because "
                f"'{stage}' is not an Active stage. Valid stages are {', '.join(ACTIVE)}"
            )
        now = now_ms()
        with self._write() as conn:
            number = self._version_row(conn, name, version).version
            if archive_existing_versions:
                conn.execute(
                    update(mv)
                    .where(mv.c.name == name, mv.c.version != number, mv.c.current_stage == stage)
                    .values(current_stage=ARCHIVED, last_updated_time=now)
                )
            conn.execute(
                update(mv)
                .where(mv.c.name == name, mv.c.version == number)
                .values(current_stage=stage, last_updated_time=now)
            )
            self._touch_model(conn, name)
            return self._versions(conn, [self._version_row(conn, name, number)])[0]

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each of `stages` (every stage when none are named)."""
        wanted = {canonical_stage(x) for x in stages or STAGES}
        with self._read() as conn:
            self._model_row(conn, name)
            latest = self._latest_per_stage(conn, [name]).get(name, [])
        return [v for v in latest if v.current_stage in wanted]
