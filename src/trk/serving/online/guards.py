"""The circuit breakers, fed from folded records instead of from the request path.

A breaker counts predicts that ran past --timeout-s (504) in a row; any other answer from
the model resets the count. Client errors (4xx) say nothing about the model and are not
shown to it; shadow copies feed the challenger's breaker in the shadow runner itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from trk.serving.core.variant import VariantSlot
from trk.serving.online.records import Batch

log = logging.getLogger("trk.serving")
TIMED_OUT = 504


class BreakerGuard:
    """Fold consumer: each variant's answers and timeouts, in order, to its breaker."""

    def __init__(
        self, slots: Mapping[str, VariantSlot], on_open: Callable[[str], None] | None = None
    ) -> None:
        self.slots, self.on_open = slots, on_open
        # Only a challenger has a breaker (the champion has nowhere to send its traffic).
        self.guarded = {name for name, slot in slots.items() if slot.breaker is not None}

    def fold(self, records: Batch) -> None:
        if not self.guarded:
            return
        for r in records:
            if r.shadow or 400 <= r.status < 500 or r.variant not in self.guarded:
                continue
            slot = self.slots.get(r.variant)
            breaker = slot.breaker if slot is not None else None
            if breaker is None or not breaker.record(r.status == TIMED_OUT):
                continue
            log.warning(
                "%s: %d predicts in a row ran past --timeout-s; its traffic goes to the "
                "champion for %g s, then one request probes it",
                r.variant,
                breaker.in_a_row,
                breaker.cooldown_s,
            )
            if self.on_open is not None:
                self.on_open(r.variant)
