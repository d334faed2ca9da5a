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
import pytest

from trk.serving.online.records import Record
from trk.serving.online.shipper import Shipper
from trk.serving.online.shipping import decode_frame, encode_frame, item

pytestmark = pytest.mark.unit


def wait_until(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not done in time"
        time.sleep(0.01)


@pytest.mark.parametrize(
    "answer",
    [
        np.array([1.5, 2.5]),
        np.array([1.5, 2.5], dtype=">f8"),  # the other byte order: orjson refuses it as is
        np.array([[1, 2], [3, 4]], dtype=">i4")[:, 0],  # and not contiguous either
        np.array(["setosa", "virginica"]),
    ],
)
def test_a_frame_reads_back_every_answer_as_its_values(answer):
    record = Record("r1", 0.0, "champion", "1", "m", 0.5, 200, 0.001, answer, rows=2)
    (shipped,) = decode_frame(encode_frame(7, "m", [item(record, 1_000)])).items
    assert shipped.answer == answer.tolist()
    assert (shipped.request_id, shipped.at_ms, shipped.probability) == ("r1", 1_000, 0.5)


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
    return encode_frame(seq, "m", [item(record, 1_000)])


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
