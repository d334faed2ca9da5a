"""The model registry in the SQL store: registered models, versions, tags and aliases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from trk.artifacts.manifest import digest as manifest_digest
from trk.artifacts.manifest import from_json as manifest_from_json
from trk.artifacts.manifest import to_json as manifest_json
from trk.entities import ModelVersion, PagedList, RegisteredModel
from trk.exceptions import AlreadyExists, InvalidParameter, NotFound, Unavailable
from trk.store import schema as s
from trk.store.promotions import record_move
from trk.store.search import decode_page_token, encode_page_token
from trk.store.sql_base import SqlBase, WriteConflict, now_ms, upsert
from trk.store.sql_search import Fields, apply_order, apply_registry_filter, paged
from trk.store.validation import (
    check_alias,
    check_key,
    check_max_results,
    check_model_name,
    check_version,
)
from trk.webhooks import events

rm = s.registered_models
mv = s.model_versions
_VERSION_RETRIES = 20

_MODEL_FIELDS = Fields(
    "registered model",
    {
        "name": (rm.c.name, False),
        "creation_timestamp": (rm.c.creation_time, True),
        "last_updated_timestamp": (rm.c.last_updated_time, True),
    },
    {"tag": (s.registered_model_tags, lambda a, k: (a.c.name == rm.c.name) & (a.c.key == k))},
)
_VERSION_FIELDS = Fields(
    "model version",
    {
        "name": (mv.c.name, False),
        "run_id": (mv.c.run_id, False),
        "source_path": (mv.c.source, False),
        "source": (mv.c.source, False),
        "version_number": (mv.c.version, True),
        "creation_timestamp": (mv.c.creation_time, True),
        "last_updated_timestamp": (mv.c.last_updated_time, True),
    },
    {
        "tag": (
            s.model_version_tags,
            lambda a, k: (a.c.name == mv.c.name) & (a.c.version == mv.c.version) & (a.c.key == k),
        )
    },
)


def _to_version(row: Row[Any], tags: dict[str, str], aliases: list[str]) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=str(row.version),
        creation_timestamp=row.creation_time,
        last_updated_timestamp=row.last_updated_time,
        source=row.source,
        run_id=row.run_id,
        status=row.status or "READY",
        current_stage=row.current_stage,
        description=row.description,
        user_id=row.user_id,
        tags=tags,
        aliases=sorted(aliases),
        model_id=row.model_id,
        digest=row.digest,
        manifest=manifest_from_json(row.manifest),
    )


def _page_token(rows: Sequence[Row[Any]], offset: int, max_results: int) -> str | None:
    return encode_page_token(offset + max_results) if len(rows) > max_results else None


class SqlRegistry(SqlBase):
    """Registry methods of `SqlStore`."""

    # Told about every committed registry change; `SqlStore.__init__` composes them.
    listeners: Sequence[events.Listener] = ()

    def _emit(self, occurrence: events.Occurrence) -> None:
        for listener in self.listeners:
            listener.publish(occurrence)

    # -- lookups ---------------------------------------------------------------------------
    def _model_row(self, conn: Connection, name: str, lock: bool = False) -> Row[Any]:
        stmt = select(rm).where(rm.c.name == name)
        row = conn.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise NotFound(f"Registered Model with name={name} not found")
        return row

    def _version_row(self, conn: Connection, name: str, version: str | int) -> Row[Any]:
        number = check_version(version)
        row = conn.execute(select(mv).where(mv.c.name == name, mv.c.version == number)).first()
        if row is None:
            self._model_row(conn, name)  # NotFound for the model itself first
            raise NotFound(f"Model Version (name={name}, version={number}) not found")
        return row

    def _versions(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[ModelVersion]:
        names = sorted({row.name for row in rows})
        tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        aliases: dict[tuple[str, int], list[str]] = defaultdict(list)
        t, a = s.model_version_tags, s.registered_model_aliases
        for tag in conn.execute(select(t).where(t.c.name.in_(names))):
            tags[(tag.name, tag.version)][tag.key] = tag.value
        for alias in conn.execute(select(a).where(a.c.name.in_(names))):
            aliases[(alias.name, alias.version)].append(alias.alias)
        return [
            _to_version(row, tags[(row.name, row.version)], aliases[(row.name, row.version)])
            for row in rows
        ]

    def _models(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[RegisteredModel]:
        names = [row.name for row in rows]
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        aliases: dict[str, dict[str, str]] = defaultdict(dict)
        t, a = s.registered_model_tags, s.registered_model_aliases
        for tag in conn.execute(select(t).where(t.c.name.in_(names))):
            tags[tag.name][tag.key] = tag.value
        for alias in conn.execute(select(a).where(a.c.name.in_(names))):
            aliases[alias.name][alias.alias] = str(alias.version)
        latest = self._latest_per_stage(conn, names)
        return [
            RegisteredModel(
                name=row.name,
                creation_timestamp=row.creation_time,
                last_updated_timestamp=row.last_updated_time,
                description=row.description,
                tags=tags[row.name],
                aliases=aliases[row.name],
                latest_versions=latest[row.name],
            )
            for row in rows
        ]

    def _latest_per_stage(
        self, conn: Connection, names: Sequence[str]
    ) -> dict[str, list[ModelVersion]]:
        """Each model's newest version in each stage, as MLflow's `latest_versions` lists them
        (stages in the order their first version entered them)."""
        per_stage = (
            select(
                mv.c.name,
                func.max(mv.c.version).label("version"),
                func.min(mv.c.version).label("first"),
            )
            .where(mv.c.name.in_(names))
            .group_by(mv.c.name, mv.c.current_stage)
            .subquery()
        )
        rows = conn.execute(
            select(mv)
            .join(
                per_stage, (mv.c.name == per_stage.c.name) & (mv.c.version == per_stage.c.version)
            )
            .order_by(per_stage.c.first)
        ).all()
        latest: dict[str, list[ModelVersion]] = defaultdict(list)
        for version in self._versions(conn, rows):
            latest[version.name].append(version)
        return latest

    def _touch_model(self, conn: Connection, model_name: str, **values: Any) -> None:
        conn.execute(
            update(rm).where(rm.c.name == model_name).values(last_updated_time=now_ms(), **values)
        )

    # -- registered models -----------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel:
        """Creates an empty registered model (AlreadyExists when the name is taken)."""
        check_model_name(name)
        for key in tags or {}:
            check_key(key, "Tag")
        now = now_ms()
        try:
            with self._write() as conn:
                if conn.execute(select(rm.c.name).where(rm.c.name == name)).first():
                    raise AlreadyExists(f"Registered Model (name={name}) already exists.")
                conn.execute(
                    rm.insert().values(
                        name=name, description=description, creation_time=now, last_updated_time=now
                    )
                )
                rows = [{"name": name, "key": k, "value": str(v)} for k, v in (tags or {}).items()]
                if rows:
                    conn.execute(s.registered_model_tags.insert(), rows)
                model = self._models(conn, [self._model_row(conn, name)])[0]
        except WriteConflict:
            raise AlreadyExists(f"Registered Model (name={name}) already exists.") from None
        self._emit(events.model_created(name, tags or {}, description))
        return model

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The model with its tags, aliases and latest version (NotFound otherwise)."""
        with self._read() as conn:
            return self._models(conn, [self._model_row(conn, name)])[0]

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Models matching `name = / LIKE / ILIKE` and `tags.k` filters, paged."""
        check_max_results(max_results)
        offset = decode_page_token(page_token)
        stmt = apply_registry_filter(select(rm), filter_string, _MODEL_FIELDS)
        stmt = apply_order(stmt, order_by, _MODEL_FIELDS, [rm.c.name])
        with self._read() as conn:
            rows = conn.execute(paged(stmt, offset, max_results)).all()
            models = self._models(conn, rows[:max_results])
        return PagedList(models, _page_token(rows, offset, max_results))

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        """Sets the description."""
        with self._write() as conn:
            self._model_row(conn, name)
            self._touch_model(conn, name, description=description)
            return self._models(conn, [self._model_row(conn, name)])[0]

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Renames the model; versions, tags and aliases follow (ON UPDATE CASCADE)."""
        check_model_name(new_name)
        try:
            with self._write() as conn:
                self._model_row(conn, name)
                if (
                    new_name != name
                    and conn.execute(select(rm.c.name).where(rm.c.name == new_name)).first()
                ):
                    raise AlreadyExists(f"Registered Model (name={new_name}) already exists.")
                self._touch_model(conn, name, name=new_name)
                return self._models(conn, [self._model_row(conn, new_name)])[0]
        except WriteConflict:
            raise AlreadyExists(f"Registered Model (name={new_name}) already exists.") from None

    def delete_registered_model(self, name: str) -> None:
        """Deletes the model with every version, tag and alias."""
        with self._write() as conn:
            self._model_row(conn, name)
            for table in (
                s.registered_model_aliases,
                s.model_version_tags,
                mv,
                s.registered_model_tags,
                rm,
            ):
                conn.execute(table.delete().where(table.c.name == name))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Sets (or overwrites) a tag on the model."""
        check_key(key, "Tag")
        with self._write() as conn:
            self._model_row(conn, name)
            row = {"name": name, "key": key, "value": str(value)}
            upsert(conn, s.registered_model_tags, [row], ["name", "key"], ["value"])

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Removes a model tag (NotFound when absent)."""
        t = s.registered_model_tags
        with self._write() as conn:
            self._model_row(conn, name)
            if conn.execute(t.delete().where(t.c.name == name, t.c.key == key)).rowcount == 0:
                raise NotFound(f"Registered model {name!r} has no tag {key!r}")

    # -- model versions --------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        model_id: str | None = None,
        manifest: dict[str, str] | None = None,
    ) -> ModelVersion:
        """Registers the next version of `name` (never a number given out before), creating the
        model if needed."""
        check_model_name(name)
        if not isinstance(source, str) or not source:
            raise InvalidParameter(f"Model version source must be a non-empty URI, got {source!r}")
        for key in tags or {}:
            check_key(key, "Tag")
        for _ in range(_VERSION_RETRIES):
            try:
                pinned = {
                    "model_id": model_id,
                    "digest": manifest_digest(manifest) if manifest else None,
                    "manifest": manifest_json(manifest) if manifest else None,
                }
                version = self._insert_version(
                    name, source, run_id, tags or {}, description, pinned
                )
            except WriteConflict:
                continue  # a concurrent creator took this number: read max again
            self._emit(events.version_created(version))
            return version
        raise Unavailable(f"Could not allocate a version of {name!r}: too many concurrent writers")

    def _insert_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: dict[str, str],
        description: str | None,
        pinned: dict[str, str | None],
    ) -> ModelVersion:
        now = now_ms()
        with self._write() as conn:
            model = {"name": name, "creation_time": now, "last_updated_time": now}
            upsert(conn, rm, [model], ["name"])
            row = self._model_row(conn, name, lock=True)  # serialises creators on PostgreSQL
            # A deleted version's number is never given out again, as in MLflow.
            newest = conn.execute(select(func.max(mv.c.version)).where(mv.c.name == name)).scalar()
            number = max(row.last_version or 0, newest or 0) + 1
            conn.execute(
                mv.insert().values(
                    name=name,
                    version=number,
                    source=source,
                    run_id=run_id,
                    status="READY",
                    description=description,
                    creation_time=now,
                    last_updated_time=now,
                    **pinned,
                )
            )
            rows = [
                {"name": name, "version": number, "key": k, "value": str(v)}
                for k, v in tags.items()
            ]
            if rows:
                conn.execute(s.model_version_tags.insert(), rows)
            self._touch_model(conn, name, last_version=number)
            return self._versions(conn, [self._version_row(conn, name, number)])[0]

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        """One version with its tags and aliases (NotFound otherwise)."""
        with self._read() as conn:
            return self._versions(conn, [self._version_row(conn, name, version)])[0]

    def update_model_version(
        self, name: str, version: str | int, description: str | None
    ) -> ModelVersion:
        """Sets the version's description."""
        with self._write() as conn:
            row = self._version_row(conn, name, version)
            conn.execute(
                update(mv)
                .where(mv.c.name == name, mv.c.version == row.version)
                .values(description=description, last_updated_time=now_ms())
            )
            return self._versions(conn, [self._version_row(conn, name, version)])[0]

    def delete_model_version(self, name: str, version: str | int) -> None:
        """Deletes the version, its tags and every alias pointing at it."""
        with self._write() as conn:
            number = self._version_row(conn, name, version).version
            for table in (s.registered_model_aliases, s.model_version_tags, mv):
                conn.execute(table.delete().where(table.c.name == name, table.c.version == number))
            self._touch_model(conn, name)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Versions matching `name`, `run_id`, `source_path`, `tags.k` filters (last updated first)."""
        check_max_results(max_results)
        offset = decode_page_token(page_token)
        stmt = apply_registry_filter(select(mv), filter_string, _VERSION_FIELDS)
        # MLflow's order: last updated first unless asked otherwise, then name, newest version.
        order_by = order_by or ["last_updated_timestamp DESC"]
        stmt = apply_order(stmt, order_by, _VERSION_FIELDS, [mv.c.name, mv.c.version.desc()])
        with self._read() as conn:
            rows = conn.execute(paged(stmt, offset, max_results)).all()
            versions = self._versions(conn, rows[:max_results])
        return PagedList(versions, _page_token(rows, offset, max_results))

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: str) -> None:
        """Sets (or overwrites) a tag on a version."""
        check_key(key, "Tag")
        with self._write() as conn:
            number = self._version_row(conn, name, version).version
            row = {"name": name, "version": number, "key": key, "value": str(value)}
            upsert(conn, s.model_version_tags, [row], ["name", "version", "key"], ["value"])
        self._emit(events.version_tag_set(name, number, key, value))

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        """Removes a version tag (NotFound when absent)."""
        t = s.model_version_tags
        with self._write() as conn:
            number = self._version_row(conn, name, version).version
            stmt = t.delete().where(t.c.name == name, t.c.version == number, t.c.key == key)
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"Model {name!r} version {number} has no tag {key!r}")
        self._emit(events.version_tag_deleted(name, number, key))

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        """Where the version's files live: its source URI."""
        with self._read() as conn:
            return str(self._version_row(conn, name, version).source)

    # -- aliases ---------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        """Points `alias` at `version` with one upsert, so readers never see it missing."""
        check_alias(alias)
        with self._write() as conn:
            number = self._version_row(conn, name, version).version
            row = {"name": name, "alias": alias, "version": number}
            upsert(conn, s.registered_model_aliases, [row], ["name", "alias"], ["version"])
            who = record_move(conn, name, alias, number)
        self._emit(events.alias_created(name, alias, number, who.name, who.approver))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Removes the alias (NotFound when the model has no such alias)."""
        a = s.registered_model_aliases
        with self._write() as conn:
            self._model_row(conn, name)
            if conn.execute(a.delete().where(a.c.name == name, a.c.alias == alias)).rowcount == 0:
                raise NotFound(f"Registered model {name!r} has no alias {alias!r}")
            who = record_move(conn, name, alias, None)
        self._emit(events.alias_deleted(name, alias, who.name))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version `alias` points at, read in one statement."""
        a = s.registered_model_aliases
        stmt = select(mv).join(a, (a.c.name == mv.c.name) & (a.c.version == mv.c.version))
        with self._read() as conn:
            row = conn.execute(stmt.where(a.c.name == name, a.c.alias == alias)).first()
            if row is None:
                self._model_row(conn, name)
                raise NotFound(f"Registered model {name!r} has no alias {alias!r}")
            return self._versions(conn, [row])[0]
