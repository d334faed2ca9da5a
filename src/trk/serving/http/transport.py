"""One write per response: uvicorn's head and body leave the server as one TCP segment.

uvicorn writes a response's status line and headers when the app sends
`http.response.start`, and its body on `http.response.body`: two `send` system calls, and
with TCP_NODELAY (`serving/runner.py`) two segments. On loopback the receiving side of each
segment runs in the sender's system call, so the second one cost the server about 4-7 us
of CPU a one-row answer (`docs/performance.md`).

`HeldWrites` wraps a connection's transport and holds a write until the next one, which it
joins to it, or until the end of the event loop's current step (one `call_soon`), or a
close. A head followed by its body in the same step (every response trk-serve sends) is
then one write; anything else (a `100 Continue`, a streamed body, a bare 400 before a
close) still leaves before the loop next waits for I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

JOIN_MAX = 64 * 1024  # bodies up to this size are copied behind the head they follow


class HeldWrites(asyncio.Transport):
    """A transport whose writes wait for the next write or the end of the loop's step."""

    __slots__ = ("_loop", "_transport", "_held", "_flush_soon")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush_soon = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) <= JOIN_MAX:
                self._transport.write(held + data)
            else:  # a large body is not copied to join it: one vectored write of both
                self._transport.writelines((held, data))
            return
        self._held = bytes(data)
        if not self._flush_soon:
            self._flush_soon = True
            self._loop.call_soon(self._flush)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(list_of_data))

    def _flush(self) -> None:
        self._flush_soon = False
        self._send_held()

    def _send_held(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        """What is held is sent first, as a plain transport sends its buffer before closing."""
        self._send_held()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def write_eof(self) -> None:
        self._send_held()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._transport.get_write_buffer_size() + (len(held) if held is not None else 0)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)
