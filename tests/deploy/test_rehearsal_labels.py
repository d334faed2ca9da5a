"""The rehearsal's labeller (loadtest/rehearsal_labels.py) against a real receiver: a replica
that stopped while a labelling round was sending loses no label, the batch goes to a replica
still in rotation; with none left, the refusal is recorded (the rehearsal's check fails)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from uvicorn_thread import ThreadServer, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def labels_module(root: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(root / "loadtest"))
    import rehearsal_labels
    import rehearsal_load

    return rehearsal_labels, rehearsal_load


def _label_round(labels_module: Any, urls: list[str], rotation: list[int]) -> Any:
    rehearsal_labels, rehearsal_load = labels_module
    labeller = rehearsal_labels.Labeller(urls, live_fraction=1.0, twice_fraction=0.0)
    labeller.in_rotation = lambda: rotation  # replica 0 has left it since the round began
    answers = [
        rehearsal_load.Answer(0.0, 0.0, 0, "u", 200, "champion", "1", "", f"id{i}", i % 6, 0)
        for i in range(20)
    ]

    async def one_round() -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            await labeller.label_new(client, answers, [0])  # chosen while it still served

    asyncio.run(one_round())
    return labeller


def test_a_stopped_replica_s_labels_go_to_one_still_in_rotation(labels_module: Any) -> None:
    received: list[dict[str, Any]] = []

    async def feedback(request: Request) -> JSONResponse:
        received.extend(await request.json())
        return JSONResponse({"written": len(received)})

    app = Starlette(routes=[Route("/feedback", feedback, methods=["POST"])])
    stopped = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    with ThreadServer(app) as receiver:
        labeller = _label_round(labels_module, [stopped, receiver.url], [1])
    assert labeller.refused == []
    assert sorted(item["request_id"] for item in received) == sorted(f"id{i}" for i in range(20))


def test_with_no_replica_left_the_refusal_is_recorded(labels_module: Any) -> None:
    stopped = f"http://127.0.0.1:{free_port()}"
    labeller = _label_round(labels_module, [stopped], [])
    assert len(labeller.refused) == 1 and "ConnectError" in labeller.refused[0]
