"""CPU of each fold consumer per request, on real records in batches of a live fold's size.

    .venv/bin/python loadtest/bench_fold.py [--requests 14000] [--batch 40] [--repeat 3]

Answers one-row iris requests through trk-serve's app in this process (single mode, then
shadow mode with the same model as challenger, as `profile_infer.py` does), keeps the records
they leave, and hands them to each of the app's fold consumers in batches of `--batch` (a
live fold's size: 40 at 8,000 requests/s, 140 at 28,000), timing every consumer's `fold` on
its own. Prints CPU microseconds per request (shadow mode: the champion's record and its
copy's), the minimum over repeats. In-process and warm: a live fold costs about twice this
(`docs/performance.md`), but the consumers' shares and a change's effect show here first.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import profile_infer as pi

from trk.serving.online.records import Batch, Record


async def answered(app: Any, n: int, settle: Callable[[], None]) -> list[Record]:
    """The records of `n` answered requests (and their shadow copies), in order."""
    plane, call = app.state.dataplane, pi.asgi_call(app)
    records: list[Record] = []
    for i in range(n):
        await call()
        if i % pi.SETTLE_EVERY == pi.SETTLE_EVERY - 1:
            settle()
            records += plane.records.take()
    settle()
    return records + plane.records.take()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=14_000)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from trk.serving.config import ServeSettings
    from trk.serving.http.app import create_app

    root = Path(tempfile.mkdtemp(prefix="trk-bench-fold-"))
    model = pi.iris_model(root)
    modes = {
        "single": ServeSettings(model_uri=model, tracking_uri=f"sqlite:///{root}/single.db"),
        "shadow": ServeSettings(
            model_uri=model,
            challenger_uri=model,
            mode="shadow",
            tracking_uri=f"sqlite:///{root}/shadow.db",
        ),
    }
    print(f"fold CPU us per request, batches of {args.batch}, min of {args.repeat}:")
    for mode, settings in modes.items():
        app = create_app(settings)
        plane, folder = app.state.dataplane, app.state.serving.folder
        await plane.start()
        await plane.wait_loaded()
        settle = pi.shadow_settled(app) if mode == "shadow" else (lambda: None)
        await answered(app, 300, settle)  # warm: the inline-predict decision, the caches
        folder.fold()
        best: dict[str, float] = defaultdict(lambda: float("inf"))
        for _ in range(args.repeat):  # fresh records each time: the join keeps new ids
            records = await answered(app, args.requests, settle)
            spent: dict[str, float] = defaultdict(float)
            for start in range(0, len(records), args.batch):
                batch = Batch(records[start : start + args.batch])
                for consumer in folder.consumers:
                    began = time.process_time()
                    consumer.fold(batch)
                    spent[type(consumer).__name__] += time.process_time() - began
            spent["all"] = sum(spent.values())
            for name, seconds in spent.items():
                best[name] = min(best[name], seconds / args.requests * 1e6)
        await plane.stop()
        print(f"  {mode}: " + "  ".join(f"{name} {us:.2f}" for name, us in best.items()))


if __name__ == "__main__":
    asyncio.run(main())
