"""One write per response (`serving/http/transport.py`): the head waits for the body, and
nothing waits longer than the event loop's current step.

The first tests drive `HeldWrites` over a recording transport, a test double: how many
`send` calls carried a byte stream cannot be seen from the socket that receives it. The
last ones speak raw HTTP/1.1 to trk-serve on uvicorn (as it runs in production), where a
write held past its step would hang the client; the last also reads which headers it sends.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import orjson
import pytest
from serving_helpers import ThreadServer

from trk.serving.http.transport import JOIN_MAX, HeldWrites

ROW = b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'


class Recording(asyncio.Transport):
    """Keeps each write it is given, and whether it was closed or aborted."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[Any] = []
        self.closed = self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self.writes.append(tuple(bytes(d) for d in list_of_data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0


def test_a_head_and_its_body_in_one_step_are_one_write():
    async def run() -> list[bytes]:
        raw = Recording()
        held = HeldWrites(raw, asyncio.get_running_loop())
        held.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert raw.writes == [] and held.get_write_buffer_size() == 38
        held.write(memoryview(b"{}"))
        assert held.get_write_buffer_size() == 0
        await asyncio.sleep(0)  # the step's flush finds nothing left
        return raw.writes

    assert asyncio.run(run()) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


def test_a_large_body_goes_beside_its_head_without_being_copied_behind_it():
    async def run() -> list[Any]:
        raw = Recording()
        held = HeldWrites(raw, asyncio.get_running_loop())
        held.write(b"HTTP/1.1 200 OK\r\n\r\n")
        held.write(b"x" * (JOIN_MAX + 1))
        await asyncio.sleep(0)
        return raw.writes

    assert asyncio.run(run()) == [(b"HTTP/1.1 200 OK\r\n\r\n", b"x" * (JOIN_MAX + 1))]


def test_a_lone_write_leaves_by_the_end_of_the_step():
    async def run() -> list[list[bytes]]:
        raw = Recording()
        held = HeldWrites(raw, asyncio.get_running_loop())
        held.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        seen = [list(raw.writes)]
        await asyncio.sleep(0)
        seen.append(list(raw.writes))
        held.writelines([b"a", b"b"])  # a later step holds and flushes again
        held.write(b"c")
        held.write(b"d")
        await asyncio.sleep(0)
        seen.append(list(raw.writes))
        return seen

    before, after, later = asyncio.run(run())
    assert before == []
    assert after == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    assert later == [*after, b"abc", b"d"]


def test_close_sends_what_is_held_first_and_abort_drops_it():
    async def run() -> tuple[Recording, Recording]:
        loop = asyncio.get_running_loop()
        closed, aborted = Recording(), Recording()
        a, b = HeldWrites(closed, loop), HeldWrites(aborted, loop)
        a.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        a.close()
        b.write(b"HTTP/1.1 200 OK\r\n\r\n")
        b.abort()
        await asyncio.sleep(0)  # and the step's flush writes nothing to either
        return closed, aborted

    closed, aborted = asyncio.run(run())
    assert closed.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"] and closed.closed
    assert aborted.writes == [] and aborted.aborted


@pytest.fixture(scope="module")
def server(iris_env) -> Any:
    from trk.serving.config import ServeSettings
    from trk.serving.http.app import create_app

    settings = ServeSettings(model_uri="models:/iris@champion", tracking_uri=iris_env.tracking_uri)
    running = ThreadServer(create_app(settings)).start()
    yield running
    running.stop()


def _read_head(sock: socket.socket, pending: bytes = b"") -> tuple[bytes, bytes]:
    """(head, the bytes after it) of the next response, final or interim."""
    data = pending
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data  # a timeout here is a held write that never left
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def _read_answer(sock: socket.socket, pending: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """(head, body, the bytes after them) of one Content-Length response."""
    head, rest = _read_head(sock, pending)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, rest
        rest += chunk
    return head, rest[:length], rest[length:]


def _request(body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )


def test_expect_100_continue_gets_its_interim_answer_before_the_body_is_sent(server):
    # The interim answer is a lone write: held until the next one, the client (which waits
    # for it before sending its body) and the server would wait for each other.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_request(ROW, b"Expect: 100-continue\r\n"))
        interim, rest = _read_head(sock)
        assert interim == b"HTTP/1.1 100 Continue"
        sock.sendall(ROW)
        head, body, _ = _read_answer(sock, rest)
    assert head.startswith(b"HTTP/1.1 200")
    assert orjson.loads(body) == {"predictions": [0]}


def test_pipelined_requests_on_one_connection_each_get_their_whole_answer(server):
    bad = b'{"inputs": "x"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_request(ROW) + ROW + _request(bad) + bad + _request(ROW) + ROW)
        answers, rest = [], b""
        for _ in range(3):
            head, body, rest = _read_answer(sock, rest)
            answers.append((head.split(b"\r\n", 1)[0], orjson.loads(body)))
        # a bad header line is answered by uvicorn itself, with one write and a close
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        closing = b""
        while chunk := sock.recv(4096):
            closing += chunk
    assert [status for status, _ in answers] == [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 400 Bad Request",
        b"HTTP/1.1 200 OK",
    ]
    assert answers[0][1] == answers[2][1] == {"predictions": [0]}
    assert answers[1][1]["error_code"] == "BAD_REQUEST"
    assert closing.startswith(b"HTTP/1.1 400 Bad Request")


def test_a_large_answer_arrives_whole(server):
    rows = b"[" + b", ".join([b"[5.1, 3.5, 1.4, 0.2]"] * 40000) + b"]"
    body = b'{"inputs": ' + rows + b"}"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_request(body) + body)
        head, answer, _ = _read_answer(sock)
    assert head.startswith(b"HTTP/1.1 200") and len(answer) > JOIN_MAX
    assert orjson.loads(answer) == {"predictions": [0] * 40000}


def test_an_answer_does_not_name_the_server_software(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_request(ROW) + ROW)
        head, _, _ = _read_answer(sock)
    names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n")[1:]]
    assert b"server" not in names and b"date" in names  # RFC 9110 asks for Date, not Server
