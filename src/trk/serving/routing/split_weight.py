"""The challenger's share of traffic in split mode: the flag's, or the store's rollout weight.

Without a rollout the weight is `--challenger-weight`, fixed. With one (`trk rollout start`),
every replica reads the rollout's weight from the shared store at each reloader pass, so all
replicas agree within one reload interval and a rollback reaches 0 without a restart. The
router reads `current` once per request (one attribute read); only `refresh` writes it.

While the rollout shadows (`--shadow-for`), the weight is 0 and `shadowing` is set: the router
copies requests to the challenger as shadow mode does, so shadow guards have data.

Which rollout applies: an active one, whatever it says (0 while shadowing); after a rollback
or abort, 0 while the challenger still serves the version that was rolled back; after a
promotion, 1 until this replica's champion serves the promoted version, then 0 (both
variants serve it). A finished rollout of another challenger version leaves the flag's weight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from trk.contracts.rollouts import ABORTED, PROMOTED, ROLLED_BACK, SHADOW, Rollout
from trk.exceptions import NotFound

log = logging.getLogger("trk.serving")
FLAG, ROLLOUT = "flag", "rollout"


class SplitWeight:
    """The challenger's weight now, and where it came from."""

    def __init__(
        self,
        default: float,
        rollouts: Callable[[], Any] | None = None,
        model: Callable[[], str] | None = None,
        version: Callable[[str], str] | None = None,
        on_change: Callable[[float], None] | None = None,
    ) -> None:
        """`rollouts`: a factory of the store's rollouts (called once, lazily); `model`: the
        registered model served; `version(variant)`: the version a variant serves now."""
        self.default = default
        self.current = default
        self.source = FLAG
        self.state: str | None = None
        self.shadowing = False  # the rollout shadows first: copies to the challenger, weight 0
        self._factory = rollouts
        self._rollouts: Any = None
        self._model = model
        self._version = version or (lambda variant: "")
        self._on_change = on_change

    def refresh(self) -> None:
        """Read the model's rollout once; keep the last weight when the store cannot answer."""
        if self._factory is None or self._model is None:
            return
        try:
            if self._rollouts is None:
                self._rollouts = self._factory()
            rollout = self._rollouts.get(self._model(), history=False)
        except NotFound:
            rollout = None
        except Exception as exc:  # an outage must not change routing: keep the last weight
            log.warning("reading the rollout failed (weight %.3g kept): %s", self.current, exc)
            return
        weight, source = self.weight_for(rollout)
        self.state = rollout.state if rollout is not None else None
        self.source = source
        self.shadowing = source == ROLLOUT and self.state == SHADOW
        if weight != self.current:
            log.info("challenger weight %.3g -> %.3g (%s)", self.current, weight, source)
            self.current = weight
            if self._on_change is not None:
                self._on_change(weight)

    def weight_for(self, rollout: Rollout | None) -> tuple[float, str]:
        """The weight a rollout (or its absence) asks of this replica, and its source."""
        if rollout is None:
            return self.default, FLAG
        challenger = self._version("challenger")
        same = challenger in ("", rollout.challenger_version)
        if rollout.active:
            # An alias moved under a running rollout: never expose an unvetted version.
            return (rollout.weight if same else 0.0), ROLLOUT
        if not same:
            return self.default, FLAG
        if rollout.state in (ROLLED_BACK, ABORTED):
            return 0.0, ROLLOUT
        if rollout.state == PROMOTED:
            moved = self._version("champion") == rollout.challenger_version
            return (0.0 if moved else 1.0), ROLLOUT
        return self.default, FLAG

    def describe(self) -> dict[str, Any]:
        return {
            "challenger_weight": self.current,
            "weight_source": self.source,
            "rollout_state": self.state,
        }
