"""The log shipper's CPU per row, fed as trk-serve feeds it, for a few linger settings.

    .venv/bin/python loadtest/bench_shipper.py [--seconds 10] [--repeat 3] [--linger 0.05 0.25]

Starts a shipper child per linger setting (the same `Shipper` and sinks trk-serve's child
runs, writing to a fresh sqlite log), writes it a frame of 100 one-row answers every 5 ms
(about 20,000 answers a second: what the one-row benchmark's fold sends), waits for the ack
of the last frame, and prints the child's CPU (every thread) per row written. Settings are
interleaved, and the median of the repeats is printed, since the host's noise moves single
runs by 1-2 us. Live, the shipper sleeps between batches and starts each with cold caches:
this is what the in-process profile (`profile_infer.py`) cannot show.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from bench_serving import cpu_seconds

from trk.serving.core.request_ids import new_request_id
from trk.serving.online.shipping import encode_frame

PER_FRAME = 100
PACE_S = 0.005
# The child: trk-serve's shipper with the linger given, on stdin and stdout.
CHILD = (
    "import sys; from trk.serving.online.shipper import Shipper, make_sinks; "
    "Shipper(make_sinks(sys.argv[1], None), sys.stdin.buffer, sys.stdout.buffer, "
    "linger_s=float(sys.argv[2])).run()"
)


def frames(count: int, seq0: int) -> list[bytes]:
    """Frames of one-row answers with trk's time-ordered request ids (random ones land all
    over the log's key and cost the store several times more)."""
    now_ms = int(time.time() * 1000)
    return [
        encode_frame(
            seq0 + f,
            "bench-lr",
            [
                [new_request_id(), "champion", "1", [i % 3], 1.0, now_ms, False, None, 0.05, 200]
                for i in range(PER_FRAME)
            ],
        )
        for f in range(count)
    ]


def run(linger_s: float, seconds: float) -> float:
    """CPU microseconds per row of one shipper fed for `seconds`."""
    folder = tempfile.mkdtemp()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, f"sqlite:///{folder}/log.db", repr(linger_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdin is not None and child.stdout is not None
    acked: list[bytes] = []
    threading.Thread(target=lambda: acked.extend(child.stdout or ()), daemon=True).start()

    def feed(batch: list[bytes]) -> None:
        for frame in batch:
            child.stdin.write(frame)  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
            time.sleep(PACE_S)

    warm = frames(100, 1)
    feed(warm)  # imports, the store opened and migrated, the first batches
    while not acked or not acked[-1].startswith(b'{"ack":%d,' % len(warm)):
        time.sleep(0.05)
    measured = frames(int(seconds / PACE_S), len(warm) + 1)
    before = cpu_seconds(child.pid)
    feed(measured)
    last = len(warm) + len(measured)
    while not acked[-1].startswith(b'{"ack":%d,' % last):
        time.sleep(0.01)
    used = cpu_seconds(child.pid) - before
    child.stdin.close()
    child.wait()
    return used / (len(measured) * PER_FRAME) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--linger", type=float, nargs="+", default=[0.05, 0.25])
    args = p.parse_args()
    results: dict[float, list[float]] = {linger: [] for linger in args.linger}
    for _ in range(args.repeat):
        for linger in args.linger:
            results[linger].append(run(linger, args.seconds))
    print(f"shipper CPU us per row, {PER_FRAME}-answer frames every {PACE_S * 1000:g} ms:")
    for linger, values in results.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(
            f"  linger {linger * 1000:5.0f} ms   median {statistics.median(values):5.2f}   ({runs})"
        )


if __name__ == "__main__":
    main()
