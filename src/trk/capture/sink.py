"""The log shipper's capture sink: each shipped answer becomes a capture row.

The shipper (trk.serving.online.shipper) calls `write(model, items)` with the answers of a
batch and acknowledges the batch to the serving process when it returns True; `idle()` between
batches. `write` appends the rows to the journal before returning, so an acknowledged row
survives a kill of the shipper; files close and publish on `idle`. An item is read by field
name (request_id, variant, version, answer, probability, at_ms, inputs; status and latency_ms
where the shipper carries them), so the sink does not import the serving layer.
"""

from __future__ import annotations

from typing import Any

from trk.capture.config import CaptureConfig
from trk.capture.rows import CaptureRecord, shipped_rows
from trk.capture.writer import CaptureWriter


def record_of(model: str, item: Any) -> CaptureRecord:
    return CaptureRecord(
        item.request_id,
        int(item.at_ms),
        model,
        item.variant,
        item.version,
        float(item.probability),
        int(getattr(item, "status", 200)),
        getattr(item, "latency_ms", None),
        item.answer,
        shipped_rows(getattr(item, "inputs", None)),
    )


class CaptureSink:
    """`name`, `rows`, `dropped`, `write`, `idle`: the shipper's sink contract."""

    name = "capture"

    def __init__(self, config: CaptureConfig, writer: CaptureWriter | None = None) -> None:
        self.writer = writer or CaptureWriter(config)

    @property
    def rows(self) -> int:
        return self.writer.written

    @property
    def dropped(self) -> dict[str, int]:
        return self.writer.dropped

    @property
    def behind(self) -> bool:
        return self.writer.behind

    def write(self, model: str, items: list[Any]) -> bool:
        """Buffer and journal the batch (never refuses: a full spool drops and counts later)."""
        if not self.writer.extend(model, items):  # an item the row-by-row checks must see
            for item in items:
                self.writer.add(record_of(model, item))
        self.writer.sync()
        return True

    def idle(self) -> None:
        self.writer.tick()

    def degraded(self) -> str | None:
        """Why the serving process's /health should say degraded (None: keeping up)."""
        if self.writer.behind:
            return (
                f"the capture cannot publish to {self.writer.target.uri} (files wait in the spool)"
            )
        return None

    def drain(self, timeout_s: float = 30.0) -> bool:
        """At end of input (SIGTERM drains): close and publish everything within `timeout_s`."""
        return self.writer.drain(timeout_s)

    def close(self) -> None:
        """Free the writer's spool slot (a sidecar's connection ended)."""
        self.writer.close()
