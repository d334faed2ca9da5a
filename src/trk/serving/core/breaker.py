"""A circuit breaker per challenger: repeated predict timeouts send its traffic elsewhere.

The classic three states (Nygard, *Release It!*, ch. 5): `closed` lets every request
through and counts consecutive timeouts; `timeouts` in a row open it. `open` lets nothing
through until `cooldown_s` has passed; then one request goes through as a probe
(`half_open`). The probe answering in time closes the breaker; the probe timing out opens
it again for another cool-down. Safe to call from the event loop and worker threads alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Counts one variant's timeouts and says whether a request may go to it."""

    def __init__(
        self,
        timeouts: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeouts, self.cooldown_s, self.clock = timeouts, cooldown_s, clock
        self.state = CLOSED
        self.in_a_row = 0
        self.opened = 0  # times it opened since start (the metric counts the same)
        self._opened_at = 0.0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """Open or probing: the variant does not take its share of traffic now."""
        return self.state != CLOSED

    def allow(self) -> bool:
        """May a request go to the variant now? After the cool-down, one probe may."""
        if self.state == CLOSED:
            return True
        with self._lock:
            if self.state == OPEN and self.clock() - self._opened_at >= self.cooldown_s:
                self.state = HALF_OPEN
                return True
            return False

    def record(self, timed_out: bool) -> bool:
        """Count one finished request; True when this one opened the breaker."""
        if not timed_out and self.state == CLOSED and not self.in_a_row:
            return False  # the hot path: nothing to change
        with self._lock:
            if not timed_out:
                self.in_a_row = 0
                if self.state == HALF_OPEN:
                    self.state = CLOSED
                return False
            self.in_a_row += 1
            if self.state == HALF_OPEN or (self.state == CLOSED and self.in_a_row >= self.timeouts):
                self.state, self._opened_at = OPEN, self.clock()
                self.opened += 1
                return True
            return False

    def describe(self) -> dict[str, Any]:
        """This breaker's entry in `/health`."""
        info: dict[str, Any] = {"state": self.state, "timeouts_in_a_row": self.in_a_row}
        if self.state == OPEN:
            left = self.cooldown_s - (self.clock() - self._opened_at)
            info["probe_in_s"] = round(max(0.0, left), 3)
        return info
