"""A frame to the log shipper holds every answer a model gives, as the shipper reads it back;
the shipper ends a batch's linger once enough bytes wait, or at the end of its input."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

import numpy as np
import orjson
import pytest

from trk.serving.online.records import Batch, Record
from trk.serving.online.shipper import Shipper
from trk.serving.online.shipping import DUMP_OPTIONS, _plain, decode_frame, encode_frame, run_items

pytestmark = pytest.mark.unit


def wait_until(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not done in time"
        time.sleep(0.01)


def frame(*records: Record) -> bytes:
    """The frame the shipper link writes for these records (each at 1 s on the wall clock)."""
    runs = Batch(records).runs
    return encode_frame(7, "m", [i for run in runs for i in run_items(run, 1.0)])


@pytest.mark.parametrize(
    "answer",
    [
        np.array([1.5, 2.5]),
        np.array([1.5, 2.5], dtype=">f8"),  # the other byte order: orjson refuses it as is
        np.array([[1, 2], [3, 4]], dtype=">i4")[:, 0],  # and not contiguous either
        np.array(["setosa", "virginica"]),
        np.array([2]),  # one-row answers: a run of them is written from their values
        np.array([[0.25]]),
        np.array([7], dtype=">i4"),
        np.array([True]),
        np.array([200], dtype=np.uint8),
        np.array([0.1], dtype=np.float32),  # as numpy prints it: 0.1, not 0.10000000149
        np.array([0.5], dtype=">f4"),
        np.array(7),
        np.array(["setosa"]),
        np.float64(3.5),
        [1, 2],
    ],
)
def test_a_frame_reads_back_every_answer_as_its_values(answer):
    """As orjson writes the answer itself (what the log held before answers were framed a
    run at a time), in its shape."""
    record = Record("r1", 0.0, "champion", "1", "m", 0.5, 200, 0.001, answer, rows=2)
    (shipped,) = decode_frame(frame(record)).items
    alone = orjson.loads(orjson.dumps(_plain(answer), option=DUMP_OPTIONS))
    assert shipped.answer == alone
    assert np.asarray(shipped.answer).shape == np.shape(answer)
    assert (shipped.request_id, shipped.at_ms, shipped.probability) == ("r1", 1_000, 0.5)
    assert (shipped.variant, shipped.version, shipped.latency_ms) == ("champion", "1", 1.0)


def test_a_frame_of_several_runs_keeps_each_records_own_fields():
    """Runs of alike records share their variant, version, status and shadow in the items;
    what differs per record (id, time, answer, latency) stays each record's own."""
    one = np.array([1])
    records = [
        Record("a", 0.5, "champion", "1", "m", 0.9, 200, 0.002, one, rows=1),
        Record("b", 1.5, "champion", "1", "m", 0.9, 200, 0.003, np.array([2]), rows=1),
        Record("a", 2.0, "challenger", "2", "m", 1.0, 200, None, one, rows=1, shadow=True),
        Record("c", 2.5, "champion", "1", "m", 0.9, 503, 0.004, rows=0),
        Record("d", 3.0, "champion", "1", "m", 0.9, 200, 0.001, [[0.5, 0.5]], rows=1),
    ]
    got = [tuple(i) for i in decode_frame(frame(*records)).items]
    assert got == [
        ("a", "champion", "1", [1], 0.9, 1500, False, None, 2.0, 200),
        ("b", "champion", "1", [2], 0.9, 2500, False, None, 3.0, 200),
        ("a", "challenger", "2", [1], 1.0, 3000, True, None, None, 200),
        ("c", "champion", "1", None, 0.9, 3500, False, None, 4.0, 503),
        ("d", "champion", "1", [[0.5, 0.5]], 0.9, 4000, False, None, 1.0, 200),
    ]


class Recording:
    """A shipper sink that keeps what it is given (the Sink protocol, in memory)."""

    name, rows, dropped = "recording", 0, {}

    def __init__(self) -> None:
        self.items: list[str] = []

    def write(self, model: str, items: list) -> bool:
        self.items += [i.request_id for i in items]
        return True

    def idle(self) -> None:
        pass


def frame_line(seq: int) -> bytes:
    record = Record(f"r{seq}", 0.0, "champion", "1", "m", 1.0, 200, 0.001, [0], rows=1)
    return encode_frame(seq, "m", run_items(Batch([record]).runs[0], 1.0))


@contextmanager
def shipping(linger_bytes: int) -> Iterator[tuple[Recording, BinaryIO]]:
    """A shipper lingering an hour after a batch's first frame, on a real pipe: its sink and the
    pipe's write end. Closing that ends the input; it is closed on the way out in any case."""
    sink, (read_end, write_end) = Recording(), os.pipe()
    with os.fdopen(read_end, "rb") as source, os.fdopen(write_end, "wb", buffering=0) as pipe:
        shipper = Shipper([sink], source, io.BytesIO(), linger_s=3600, linger_bytes=linger_bytes)
        thread = threading.Thread(target=shipper.run, daemon=True)
        thread.start()
        try:
            yield sink, pipe
        finally:
            pipe.close()
            thread.join(20)  # the linger is an hour: only the bound or the end of input ends it
        assert not thread.is_alive()


def test_a_batch_is_written_once_its_frames_pass_the_byte_bound_not_after_the_linger():
    lines = [frame_line(seq) for seq in (1, 2, 3)]
    with shipping(linger_bytes=sum(map(len, lines))) as (sink, pipe):
        for line in lines:
            pipe.write(line)
        wait_until(lambda: sink.items == ["r1", "r2", "r3"], timeout=20)  # not an hour


def test_the_end_of_input_ends_the_linger_and_writes_what_is_held():
    with shipping(linger_bytes=1 << 30) as (sink, pipe):
        pipe.write(frame_line(1))
        pipe.close()
    assert sink.items == ["r1"]


def test_past_the_backlog_bound_a_run_is_kept_as_far_as_it_fits_and_the_rest_counted():
    """The link keeps answers in order while their rows fit its bound; from the first that
    does not, every later answer of the batch is dropped and counted, even one that would
    fit (the log keeps a prefix, never a sample)."""
    from trk.serving.online.shipper_link import ShipperLink

    link = ShipperLink(lambda: "m", max_backlog=5)  # never started: frames are kept, unsent

    def answer(i: int, rows: int) -> Record:
        return Record(f"r{i}", 0.0, "champion", "1", "m", 1.0, 200, 0.001, [0] * rows, rows=rows)

    link.fold(Batch([answer(0, 2), answer(1, 2), answer(2, 2), answer(3, 1), answer(4, 1)]))
    assert (link.backlog, link.dropped["queue_full"]) == (4, 3)
    ((_, sent, rows),) = link._unacked
    assert rows == 4 and [i.request_id for i in decode_frame(sent).items] == ["r0", "r1"]
    link.fold(Batch([answer(5, 1), answer(6, 1)]))  # the next batch: room for one more row
    assert (link.backlog, link.dropped["queue_full"]) == (5, 4)
