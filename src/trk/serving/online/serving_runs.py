"""The serving runs of one process: one per variant, created lazily, ended on shutdown.

On first contact with the store, runs of this host left RUNNING by a process that is gone
are marked KILLED (a crashed or killed server never ended them).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from trk.entities import Param, RunStatus
from trk.exceptions import AlreadyExists
from trk.serving.online.window_stats import VariantInfo
from trk.serving_contract import SERVING_TAG

log = logging.getLogger("trk.serving.online.reporter")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class ServingRuns:
    """Creates the experiment and the per-variant runs on demand; all calls may raise."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        experiment: str | Callable[[], str],
        host: str,
        pid: int,
    ) -> None:
        self._factory = client_factory
        self._client: Any = None
        self._experiment = experiment  # a callable when the name is known only after loading
        self.host, self.pid = host, pid
        self.experiment_id: str | None = None
        self.run_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def client(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client

    @property
    def experiment(self) -> str:
        return self._experiment() if callable(self._experiment) else self._experiment

    def run_for(self, info: VariantInfo) -> str:
        """The run of this process for `info.name`, created (with params and tags) if new."""
        with self._lock:
            if info.name not in self.run_ids:
                self.run_ids[info.name] = self._create(info)
            return self.run_ids[info.name]

    def prepare(self) -> None:
        """Find or create the experiment (closing stale runs) once; raises while unreachable."""
        self._experiment_id()

    def _experiment_id(self) -> str:
        if self.experiment_id is None:
            client = self.client()
            exp = client.get_experiment_by_name(self.experiment)
            if exp is None:
                try:
                    exp_id = client.create_experiment(self.experiment)
                except AlreadyExists:  # another replica created it first
                    exp_id = client.get_experiment_by_name(self.experiment).experiment_id
            else:
                exp_id = exp.experiment_id
            self.kill_stale(exp_id)
            self.experiment_id = exp_id
        return self.experiment_id

    def _create(self, info: VariantInfo) -> str:
        client = self.client()
        tags = {
            SERVING_TAG: "true",
            "trk.host": self.host,
            "trk.pid": str(self.pid),
            "trk.variant": info.name,
        }
        run = client.create_run(
            self._experiment_id(), tags=tags, run_name=f"{info.name}-{self.host}-{self.pid}"
        )
        params = {
            "model_uri": info.model_uri,
            "model_version": info.model_version,
            "variant": info.name,
            "mode": info.mode,
            "weight": f"{info.weight:g}",
        }
        client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()])
        log.info("serving run %s for %s in %s", run.info.run_id, info.name, self.experiment)
        return str(run.info.run_id)

    def kill_stale(self, experiment_id: str) -> int:
        """Mark KILLED the RUNNING serving runs of this host whose process is gone."""
        client, killed, token = self.client(), 0, None
        while True:
            page = client.search_runs(
                [experiment_id], "attributes.status = 'RUNNING'", page_token=token
            )
            for run in page:
                tags = run.data.tags
                if tags.get(SERVING_TAG) != "true" or tags.get("trk.host") != self.host:
                    continue
                pid = int(tags.get("trk.pid", "0") or 0)
                if pid == self.pid or not pid_alive(pid):
                    client.set_terminated(run.info.run_id, RunStatus.KILLED)
                    client.set_tag(run.info.run_id, "trk.end_reason", "process gone")
                    killed += 1
            token = page.token
            if not token:
                break
        if killed:
            log.warning("marked %d serving run(s) of %s left RUNNING as KILLED", killed, self.host)
        return killed

    def finish_all(self) -> None:
        """End every run of this process FINISHED (graceful shutdown)."""
        for run_id in list(self.run_ids.values()):
            self.client().set_terminated(run_id, RunStatus.FINISHED)
        self.run_ids.clear()
