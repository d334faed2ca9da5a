"""Pick the variant that answers a request, and the one (if any) that gets a shadow copy.

Split mode: random with the challenger's weight, or, with a sticky header, a stable hash of
the header's value (blake2b, so every replica and every restart agrees; never `hash()`,
which is salted per process). Shadow mode: the champion always answers and the challenger
gets a sampled copy. With `--allow-forced-variant`, `X-Trk-Variant: champion|challenger`
forces a variant; a shadow never answers, forced or not. A challenger whose circuit breaker
is open gets neither its split share nor shadow copies until a probe finds it answering.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trk.exceptions import InvalidParameter, Unavailable
from trk.serving.core.variant import CHALLENGER, CHAMPION, Variant, VariantSlot
from trk.serving.routing.split_weight import SplitWeight
from trk.serving_contract import MODES

FORCE_HEADER = "x-trk-variant"
# Why a request went where it did (the `reason` of a Route, and a metric label).
SINGLE, SHADOW, FORCED, STICKY, RANDOM, FALLBACK, DOWN, OPEN = (
    "single",
    "shadow",
    "forced",
    "sticky",
    "random",
    "sticky_fallback",
    "challenger_unavailable",
    "challenger_breaker_open",
)


@dataclass(slots=True)
class Route:
    """Where one request goes: `primary` answers, `shadow` (or None) gets a copy.

    `probability`: the chance a request reaches `primary` (the log's propensity), decided
    with the route from the same weight read. Not frozen (a frozen dataclass costs ~1 us
    to build): never changed once made, and single mode hands out one per champion.
    """

    primary: Variant
    shadow: Variant | None
    reason: str
    probability: float = 1.0

    def __iter__(self) -> Iterator[Variant | None]:
        # The DataPlane unpacks `primary, shadow = router.route(headers)`.
        yield self.primary
        yield self.shadow


def stable_unit(value: str) -> float:
    """A header value -> a number in [0, 1), the same in every process and on every host."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def check_weight(flag: str, value: float) -> float:
    """Refuse a weight or sample rate outside [0, 1] with one line."""
    if not 0.0 <= float(value) <= 1.0:
        raise InvalidParameter(f"{flag} must be within [0, 1], got {value}")
    return float(value)


class Router:
    """Champion/challenger routing over two slots (reads `slot.current` once per request)."""

    def __init__(
        self,
        champion_slot: VariantSlot,
        challenger_slot: VariantSlot | None,
        mode: str = "single",
        weight: float | SplitWeight = 0.0,
        sticky_header: str | None = None,
        shadow_sample: float = 1.0,
        allow_forced: bool = False,
        on_route: Callable[[Route], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if mode not in MODES:
            raise InvalidParameter(f"--mode {mode!r} is unknown; use one of {', '.join(MODES)}")
        self.champion_slot = champion_slot
        self.challenger_slot = challenger_slot
        self.mode = mode if challenger_slot is not None else "single"
        # A SplitWeight follows the store's rollout; a number is the fixed flag.
        self.weights = (
            weight
            if isinstance(weight, SplitWeight)
            else SplitWeight(check_weight("--challenger-weight", weight))
        )
        self.shadow_sample = check_weight("--shadow-sample", shadow_sample)
        self.sticky_header = sticky_header.lower() if sticky_header else None
        self.allow_forced = allow_forced
        self.on_route = on_route
        self._random = (rng or random.Random()).random
        self._single: Route | None = None  # single mode's one route, for the champion now

    @property
    def weight(self) -> float:
        """The challenger's share in split mode now."""
        return self.weights.current

    def route(self, headers: Mapping[str, str], force: str | None = None) -> Route:
        """Choose for one request; raises Unavailable when the champion is not loaded.

        `force` is a variant the request's path names (V2's `versions/{v}`): honoured like
        the header when forcing is allowed, or when the champion alone serves.
        """
        champion = self.champion_slot.current
        if champion is None:
            slot = self.champion_slot
            raise Unavailable(f"The model is not ready ({slot.state}): {slot.error or 'loading'}")
        challenger = self.challenger_slot.current if self.challenger_slot is not None else None
        if force is not None:
            if not self.allow_forced and (force != CHAMPION or self.mode != "single"):
                raise InvalidParameter(
                    "This server does not let a request pick its variant (it was started "
                    "without --allow-forced-variant): leave the version out"
                )
            route = self._forced(force, champion, challenger)
        else:
            route = self._choose(headers, champion, challenger)
        if self.on_route is not None:
            self.on_route(route)
        return route

    def _choose(
        self, headers: Mapping[str, str], champion: Variant, challenger: Variant | None
    ) -> Route:
        forced = headers.get(FORCE_HEADER) if self.allow_forced else None
        if forced:
            return self._forced(forced.strip().lower(), champion, challenger)
        if self.mode == "single":
            single = self._single
            if single is None or single.primary is not champion:  # a reload swapped it
                single = self._single = Route(champion, None, SINGLE)
            return single
        if challenger is None:
            return Route(champion, None, DOWN, self.probability(CHAMPION))
        if self.mode == "shadow" or self.weights.shadowing:  # a split rollout shadows first
            copy = self.shadow_sample >= 1.0 or self._random() < self.shadow_sample
            return Route(champion, challenger if copy and self._allow() else None, SHADOW)
        point, reason = self._split_point(headers)
        weight = self.weights.current
        if point >= weight:
            return Route(champion, None, reason, 1.0 - weight)
        if self._allow():
            return Route(challenger, None, reason, weight)
        return Route(champion, None, OPEN, 1.0 - weight)

    def _allow(self) -> bool:
        """Whether the challenger's breaker lets this request (or copy) through."""
        breaker = self.challenger_slot.breaker if self.challenger_slot is not None else None
        return breaker is None or breaker.allow()

    def _split_point(self, headers: Mapping[str, str]) -> tuple[float, str]:
        if self.sticky_header is None:
            return self._random(), RANDOM
        value = headers.get(self.sticky_header)
        if not value:
            return self._random(), FALLBACK
        return stable_unit(value), STICKY

    def _forced(self, name: str, champion: Variant, challenger: Variant | None) -> Route:
        if name == CHAMPION:
            return Route(champion, None, FORCED, self.probability(CHAMPION))
        if name != CHALLENGER:
            raise InvalidParameter(
                f"X-Trk-Variant must be 'champion' or 'challenger', got {name[:40]!r}"
            )
        if self.mode == "shadow":
            raise InvalidParameter(
                "X-Trk-Variant: challenger is refused in --mode shadow: a shadow never answers"
            )
        if challenger is None:
            slot = self.challenger_slot
            state = f"{slot.state}: {slot.error or 'loading'}" if slot else "not configured"
            raise Unavailable(f"X-Trk-Variant asked for the challenger, which is {state}")
        if not self._allow():
            raise Unavailable(
                "X-Trk-Variant asked for the challenger, whose circuit breaker is open "
                "(its predicts timed out); try again after the cool-down"
            )
        return Route(challenger, None, FORCED, self.probability(CHALLENGER))

    def probability(self, variant: str) -> float:
        """The chance a request reaches `variant` (answering, or as a shadow copy), as set."""
        shadowing = self.mode == "shadow" or self.weights.shadowing
        if self.mode == "split" and not shadowing:
            return self.weight if variant == CHALLENGER else 1.0 - self.weight
        if shadowing and variant == CHALLENGER:
            return self.shadow_sample
        return 1.0

    def describe(self) -> dict[str, Any]:
        """The routing settings for `/health` and `/metadata`."""
        return {
            "mode": self.mode,
            "challenger_weight": self.weight if self.mode == "split" else 0.0,
            "shadow_sample": self.shadow_sample if self.mode == "shadow" else 0.0,
            "sticky_header": self.sticky_header,
            "allow_forced_variant": self.allow_forced,
        }
