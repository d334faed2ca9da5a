"""A frame to the log shipper holds every answer a model gives, as the shipper reads it back."""

from __future__ import annotations

import numpy as np
import pytest

from trk.serving.online.records import Record
from trk.serving.online.shipping import decode_frame, encode_frame, item

pytestmark = pytest.mark.unit


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
