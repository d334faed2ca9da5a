"""What a hostile caller of the real `tritonclient` can send is the caller's error: a 4xx before
the variant's error rate, and memory a small multiple of the body. Against uvicorn on
127.0.0.1 serving iris (its server runs in this process, so `tracemalloc` sees its arrays)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as tc
from serving_helpers import metric_value
from tritonclient.utils import InferenceServerException

MiB = 1024 * 1024


class _ForgeHeader:
    """A tritonclient plugin: what a client that lies about its header length sends."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __call__(self, request: Any) -> None:
        request.headers["Inference-Header-Content-Length"] = self.value


@pytest.fixture
def client(iris_server) -> Iterator[tc.InferenceServerClient]:
    triton = tc.InferenceServerClient(iris_server.url.removeprefix("http://"))
    yield triton
    triton.close()


def _rows() -> tc.InferInput:
    x = tc.InferInput("x", [1, 4], "FP64")
    x.set_data_from_numpy(np.array([[5.1, 3.5, 1.4, 0.2]]), binary_data=True)
    return x


def _server_errors(url: str) -> float:
    return metric_value(httpx.get(f"{url}/metrics").text, "trk_requests_total", status="500")


@pytest.mark.parametrize("value", ["\u00b2", "9" * 5000, "-1", " 1e3"])
def test_a_forged_header_length_is_a_400_never_a_variant_error(iris_server, client, value):
    # '²' (latin-1, as headers are read) passes str.isdigit() and int() refuses it; so do
    # 5,000 digits. Each was a 500, counted against the variant the request was routed to.
    before = _server_errors(iris_server.url)
    client.register_plugin(_ForgeHeader(value))
    with pytest.raises(InferenceServerException) as refused:
        client.infer("iris", [_rows()])
    assert refused.value.status() == "400", refused.value.message()
    assert "Inference-Header-Content-Length" in refused.value.message()
    client.unregister_plugin()
    assert client.infer("iris", [_rows()]).as_numpy("predictions").shape == (1,)
    assert _server_errors(iris_server.url) == before


@pytest.mark.parametrize("shape", [[0, 2**63], [0, 2**62, 2**62], [0, 2**40, 2**40, 2**40]])
def test_a_shape_numpy_cannot_hold_is_a_400(iris_server, client, shape):
    before = _server_errors(iris_server.url)
    x = tc.InferInput("x", [0, 4], "FP64")
    x.set_data_from_numpy(np.empty((0, 4)), binary_data=True)
    x.set_shape(shape)  # no values, so the count matches: only numpy can say no
    with pytest.raises(InferenceServerException) as refused:
        client.infer("iris", [x])
    assert refused.value.status() == "400", refused.value.message()
    assert _server_errors(iris_server.url) == before


def _peak_during(call: Any) -> int:
    """Bytes allocated at the peak while `call()` runs (this process: client and server)."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_a_string_tensor_is_never_padded_to_its_longest_string(iris_server, client, binary):
    # 3,000 one-letter strings and one of 30,000 characters: about 36 KB in the body. numpy's
    # string array pads each to the longest: 3,001 x 30,000 x 4 bytes = 360 MB.
    strings = np.array(["a"] * 3000 + ["b" * 30000], dtype=object).reshape(1, -1)
    x = tc.InferInput("x", list(strings.shape), "BYTES")
    x.set_data_from_numpy(strings, binary_data=binary)

    def send() -> None:
        with pytest.raises(InferenceServerException) as refused:  # iris wants numbers
            client.infer("iris", [x])
        assert refused.value.status() == "400", refused.value.message()

    peak = _peak_during(send)
    assert peak < 16 * MiB, f"{peak / MiB:.0f} MiB for a 36 KB request"


def test_invocations_strings_are_never_padded_either(iris_server):
    rows = [["a", "a", "a", "a"]] * 3000 + [["b" * 30000, "a", "a", "a"]]
    peak = _peak_during(
        lambda: httpx.post(f"{iris_server.url}/invocations", json={"inputs": rows}, timeout=60)
    )
    assert peak < 16 * MiB, f"{peak / MiB:.0f} MiB for a 66 KB request"
    answer = httpx.post(f"{iris_server.url}/invocations", json={"inputs": rows}, timeout=60)
    assert answer.status_code == 400 and "expects" in answer.json()["message"]
