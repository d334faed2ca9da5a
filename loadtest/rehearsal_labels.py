"""The rehearsal's labels: every label, wherever and whenever it arrives, must count once.

While the load runs, most answers are labelled through `POST /feedback` on a random live
replica (rarely the one that answered; some labels twice, to two replicas, where the repeat
must be refused with a 409 since a label is written once); the rest are
kept and labelled in bulk with `trk ab label --file` after every replica has stopped and a
delay has passed (`--bulk-delay-s`, a minute by default). A fifth of the labels disagree
with the true species (as real labels sometimes do), so `correct` is not simply `labelled`.
The checks compare the A/B report's labelled and correct counts per variant with what the
clients saw and sent.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from rehearsal_load import IRIS_TRUTH, Answer

EVERY_S = 0.5  # how often the labeller sends what was answered since


@dataclass
class Labeller:
    """Labels answers as they come: most live to a random replica, the rest kept for bulk."""

    urls: list[str]
    live_fraction: float = 0.7
    twice_fraction: float = 0.1
    noise_fraction: float = 0.2
    seed: int = 15
    sent: int = 0  # answers labelled live (once each, however often sent)
    resent: int = 0  # of those, sent a second time to another replica
    wrong_replica: int = 0  # labels that reached a replica other than the one that answered
    refused: list[str] = field(default_factory=list)
    late: list[Answer] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)  # request id -> the label sent
    _seen: int = 0
    in_rotation: Callable[[], list[int]] = list  # the replicas in rotation now (run sets it)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    async def run(self, answers: list[Answer], live: Callable[[], list[int]]) -> None:
        """Label new answers every EVERY_S until cancelled, to replicas still in rotation."""
        self.in_rotation = live
        async with httpx.AsyncClient(timeout=30.0) as client:
            try:
                while True:
                    await asyncio.sleep(EVERY_S)
                    await self.label_new(client, answers, live())
            except asyncio.CancelledError:
                await self.label_new(client, answers, live())  # what came in last
                raise

    async def label_new(
        self, client: httpx.AsyncClient, answers: list[Answer], live: list[int]
    ) -> None:
        """Label every answer that came in since the last call."""
        new, self._seen = answers[self._seen :], len(answers)
        batches: dict[int, list[dict[str, Any]]] = {}
        repeats: dict[int, list[dict[str, Any]]] = {}
        for a in new:
            if a.status != 200:
                continue
            noisy = self.rng.random() < self.noise_fraction
            self.labels[a.request_id] = (IRIS_TRUTH[a.row] + noisy) % 3
            if not live or self.rng.random() >= self.live_fraction:
                self.late.append(a)
                continue
            item = {"request_id": a.request_id, "label": self.labels[a.request_id]}
            targets = self.rng.sample(live, 2 if len(live) > 1 and self._twice() else 1)
            self.resent += len(targets) - 1
            batches.setdefault(targets[0], []).append(item)
            for replica in targets[1:]:  # a label is written once: the repeat must get a 409
                repeats.setdefault(replica, []).append(item)
            self.wrong_replica += targets[0] != a.replica
            self.sent += 1
        # 200 (joined) or 202 (held until its prediction is logged) for the first sending
        await self._send(client, batches, (200, 202))
        await self._send(client, repeats, (409,))

    async def _send(
        self,
        client: httpx.AsyncClient,
        batches: dict[int, list[dict[str, Any]]],
        ok: tuple[int, ...],
    ) -> None:
        for replica, items in batches.items():
            tried = {replica}
            while True:
                try:
                    resp = await client.post(self.urls[replica] + "/feedback", json=items)
                except httpx.ConnectError as exc:
                    # The replica left the rotation and stopped while this round was sending
                    # (the posts before took longer than the preStop pause): nothing reached
                    # it, so send to one still in rotation, as a Service would by then.
                    others = [r for r in self.in_rotation() if r not in tried]
                    if not others:
                        self.refused.append(repr(exc))
                        break
                    replica = self.rng.choice(others)
                    tried.add(replica)
                    continue
                except httpx.HTTPError as exc:
                    self.refused.append(repr(exc))
                    break
                if resp.status_code not in ok:
                    self.refused.append(f"{resp.status_code}: {resp.text[:200]}")
                break

    def _twice(self) -> bool:
        return self.rng.random() < self.twice_fraction

    def late_file(self, path: Path) -> Path:
        """The labels kept back, as a JSON Lines file for `trk ab label --file`."""
        lines = (
            orjson.dumps({"request_id": a.request_id, "label": self.labels[a.request_id]})
            for a in self.late
        )
        path.write_bytes(b"\n".join(lines) + b"\n")
        return path


def expected_counts(answers: list[Answer], labels: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per variant: answers (every one is labelled, live or in bulk) and those that match."""
    out: dict[str, dict[str, int]] = {}
    for a in answers:
        if a.status == 200:
            c = out.setdefault(a.variant, {"labelled": 0, "correct": 0})
            c["labelled"] += 1
            c["correct"] += int(a.prediction == labels[a.request_id])
    return out


def checks(
    answers: list[Answer], labeller: Labeller, report: dict[str, Any]
) -> tuple[dict[str, bool], dict[str, Any]]:
    """The label checks (name -> passed) and their figures."""
    expected = expected_counts(answers, labeller.labels)
    reported: dict[str, dict[str, int]] = {}
    for row in report["variants"]:  # one row per (variant, version): summed per variant
        c = reported.setdefault(row["variant"], {"labelled": 0, "correct": 0})
        c["labelled"] += row["labelled"]
        c["correct"] += row["correct"]
    results = {
        "no_label_refused": not labeller.refused,
        "report_reads_labels_from_the_store": report.get("labels") == "store",
        "report_counts_every_label_once": bool(expected) and reported == expected,
    }
    figures = {
        "labelled_live": labeller.sent,
        "labelled_live_twice": labeller.resent,
        "labels_to_another_replica": labeller.wrong_replica,
        "labelled_in_bulk": len(labeller.late),
        "labels_expected": expected,
        "labels_reported": reported,
        "labels_refused": labeller.refused[:5],
    }
    return results, figures
