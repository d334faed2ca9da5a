"""A stand-in for the log shipper's loop around the capture sink, run as its own process so a
test can kill it with SIGKILL: frames `[seq, model, [item, ...]]` on stdin, `seq` acknowledged
on stdout once the sink has the batch, a drain at end of input.

    python sink_driver.py URI SPOOL_DIR MAX_ROWS
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import orjson

from trk.capture.config import CaptureConfig
from trk.capture.sink import CaptureSink


class Item(NamedTuple):
    request_id: str
    variant: str
    version: str
    answer: object
    probability: float
    at_ms: int
    shadow: bool = False
    inputs: object = None


def main() -> None:
    uri, spool, max_rows = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    sink = CaptureSink(CaptureConfig(uri, spool_dir=spool, max_rows=max_rows))
    print("ready", flush=True)
    for line in sys.stdin.buffer:
        seq, model, items = orjson.loads(line)
        sink.write(model, [Item(*i) for i in items])
        print(seq, flush=True)
        sink.idle()
    sink.drain(30)
    print("drained", flush=True)


if __name__ == "__main__":
    main()
