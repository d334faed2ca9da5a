"""`--log-samples`: a sampled fraction of requests, with both variants' answers, as JSONL.

Sampling happens in the fold (one random draw per folded answer); the other variant's
answer is computed by a background thread through a bounded queue (full -> the sample is
skipped), so no request waits. Files rotate with each report window and are capped in size; the
reporter uploads them as `samples/` artifacts of the answering variant's serving run.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

log = logging.getLogger("trk.serving.online.samples")
_STOP = object()


def encode_input(data: Any) -> dict[str, Any]:
    """Model input as JSON the scoring protocol (and `trk ab replay`) reads back."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        split = data.to_dict(orient="split")
        return {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}
    if isinstance(data, dict):
        return {"inputs": {k: np.asarray(v).tolist() for k, v in data.items()}}
    return {"inputs": np.asarray(data).tolist()}


def _answer(predictions: Any) -> Any:
    if hasattr(predictions, "to_numpy"):
        predictions = predictions.to_numpy()
    return np.asarray(predictions).tolist()


class SampleLogger:
    """Writes sampled requests to one JSONL file per variant per window."""

    def __init__(
        self,
        fraction: float,
        directory: str | Path,
        variants: Callable[[], dict[str, Any]],
        max_bytes: int = 5 * 1024 * 1024,
        queue_size: int = 1000,
        seed: int | None = None,
    ) -> None:
        self.fraction, self.max_bytes = fraction, max_bytes
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.variants = variants  # name -> current Variant (for the other variant's answer)
        self.skipped = 0  # samples not written: queue full or file at its size cap
        self._rng = random.Random(seed)
        self._queue: queue.Queue[Any] = queue.Queue(queue_size)
        self._files: dict[str, Any] = {}
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def fold(self, records: Any) -> None:
        """Fold consumer: sample answers with probability `fraction`; never blocks."""
        for r in records:
            if r.shadow or r.status != 200 or r.inputs is None:
                continue
            if self._rng.random() >= self.fraction:
                continue
            item = (r.request_id, r.variant, r.version, r.inputs, r.params, r.answer, time.time())
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.skipped += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trk-samples", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then stop the thread (files stay for the last rotate)."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            try:
                self.write(*item)
            except Exception:  # a sample is best effort: log and carry on
                log.exception("writing a request sample failed")

    def write(
        self,
        request_id: str,
        variant: str,
        version: str,
        data: Any,
        params: dict[str, Any] | None,
        predictions: Any,
        at: float,
    ) -> None:
        """Add one sample line with every variant's answer to `variant`'s current file."""
        answers = {variant: _answer(predictions)}
        for name, other in self.variants().items():
            if name not in answers and other is not None:
                answers[name] = self._other_answer(other, data, params)
        line = (
            orjson.dumps(
                {
                    "request_id": request_id,
                    "time": at,
                    "variant": variant,
                    "version": version,
                    "input": encode_input(data),
                    "params": params,
                    "answers": answers,
                },
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
            + b"\n"
        )
        name = variant
        with self._lock:
            size = self._sizes.get(name, 0)
            if size + len(line) > self.max_bytes:
                self.skipped += 1
                return
            handle = self._files.get(name)
            if handle is None:
                path = self.directory / f"{name}.current.jsonl"
                handle = self._files[name] = open(path, "ab")  # noqa: SIM115
            handle.write(line)
            self._sizes[name] = size + len(line)

    @staticmethod
    def _other_answer(other: Any, data: Any, params: dict[str, Any] | None) -> Any:
        try:
            fast = isinstance(data, np.ndarray) and data.ndim == 2 and not params
            if fast and not other.model.needs_dataframe:
                return _answer(other.model.predict_array(data))
            return _answer(other.model.predict(data, params))
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"[:300]}

    def rotate(self) -> dict[str, str]:
        """Close this window's files; variant -> path of a finished file to upload."""
        stamp = int(time.time() * 1000)
        done: dict[str, str] = {}
        with self._lock:
            files, self._files, self._sizes = self._files, {}, {}
        for name, handle in files.items():
            handle.close()
            final = self.directory / f"{name}-{stamp}.jsonl"
            os.replace(handle.name, final)
            done[name] = str(final)
        return done
