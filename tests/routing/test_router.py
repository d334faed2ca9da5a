"""Router: split weights, sticky hashing, forced variants, shadow sampling, bad settings."""

from __future__ import annotations

import random

import pytest

from trk.exceptions import InvalidParameter, Unavailable
from trk.serving.core.breaker import CircuitBreaker
from trk.serving.core.variant import CHALLENGER, CHAMPION, Variant, VariantSlot
from trk.serving.routing.router import Router, stable_unit

pytestmark = pytest.mark.unit


def slots(challenger_loaded: bool = True) -> tuple[VariantSlot, VariantSlot]:
    champ = VariantSlot(CHAMPION, "models:/iris@champion")
    champ.swap(Variant(CHAMPION, champ.uri, None, "iris", "1"))
    chall = VariantSlot(CHALLENGER, "models:/iris@challenger")
    if challenger_loaded:
        chall.swap(Variant(CHALLENGER, chall.uri, None, "iris", "2"))
    else:
        chall.mark("failed", "no such alias")
    return champ, chall


def share(router: Router, n: int, headers_for=lambda i: {}) -> float:
    hits = sum(router.route(headers_for(i)).primary.name == CHALLENGER for i in range(n))
    return hits / n


def test_split_random_follows_the_weight():
    router = Router(*slots(), mode="split", weight=0.25, rng=random.Random(7))
    assert abs(share(router, 8000) - 0.25) < 0.02
    assert share(Router(*slots(), mode="split", weight=0.0), 500) == 0.0
    assert share(Router(*slots(), mode="split", weight=1.0), 500) == 1.0


def test_sticky_is_stable_and_weighted():
    router = Router(*slots(), mode="split", weight=0.3, sticky_header="X-User-Id")
    keys = [{"x-user-id": f"user-{i}"} for i in range(4000)]
    first = [router.route(h).primary.name for h in keys]
    again = [router.route(h).primary.name for h in keys]
    assert first == again
    assert abs(first.count(CHALLENGER) / len(first) - 0.3) < 0.03
    assert {router.route(h).reason for h in keys[:5]} == {"sticky"}
    # A larger weight only moves users champion -> challenger, never back.
    wider = Router(*slots(), mode="split", weight=0.6, sticky_header="X-User-Id")
    assert all(
        wider.route(h).primary.name == CHALLENGER
        for h, v in zip(keys, first, strict=True)
        if v == CHALLENGER
    )


def test_stable_hash_is_the_same_in_every_process():
    # Pinned values, not a second process: every replica, restart and trk version must map a
    # user to the same number, whatever the process's hash seed (this one's is random).
    assert stable_unit("user-42") == 0.4360472144288925
    assert stable_unit("") == 0.8931675160897388


def test_missing_sticky_header_falls_back_to_random_and_is_reported():
    seen = []
    router = Router(
        *slots(),
        mode="split",
        weight=0.5,
        sticky_header="X-User-Id",
        on_route=lambda r: seen.append(r.reason),
        rng=random.Random(1),
    )
    names = {router.route({}).primary.name for _ in range(200)}
    assert names == {CHAMPION, CHALLENGER}
    assert seen == ["sticky_fallback"] * 200


def test_forced_variant_header():
    router = Router(*slots(), mode="split", weight=0.0, allow_forced=True)
    route = router.route({"x-trk-variant": "challenger"})
    assert (route.primary.name, route.reason) == (CHALLENGER, "forced")
    assert router.route({"x-trk-variant": " Champion "}).primary.name == CHAMPION
    with pytest.raises(InvalidParameter, match="X-Trk-Variant"):
        router.route({"x-trk-variant": "third"})
    disabled = Router(*slots(), mode="split", weight=0.0)  # the default: the header is ignored
    assert disabled.route({"x-trk-variant": "challenger"}).primary.name == CHAMPION
    down = Router(*slots(challenger_loaded=False), mode="split", weight=1.0, allow_forced=True)
    with pytest.raises(Unavailable, match="failed: no such alias"):
        down.route({"x-trk-variant": "challenger"})


def test_forcing_never_answers_from_a_shadow():
    router = Router(*slots(), mode="shadow", allow_forced=True)
    with pytest.raises(InvalidParameter, match="shadow never answers"):
        router.route({"x-trk-variant": "challenger"})
    assert router.route({"x-trk-variant": "champion"}).primary.name == CHAMPION


def test_open_breaker_sends_the_challenger_share_to_the_champion():
    now = [0.0]
    champ, chall = slots()
    chall.breaker = breaker = CircuitBreaker(timeouts=2, cooldown_s=10.0, clock=lambda: now[0])
    router = Router(champ, chall, mode="split", weight=1.0, allow_forced=True)
    assert router.route({}).primary.name == CHALLENGER
    breaker.record(timed_out=True)
    assert breaker.record(timed_out=True)  # the second in a row opens it
    routes = [router.route({}) for _ in range(50)]
    assert {(r.primary.name, r.reason) for r in routes} == {(CHAMPION, "challenger_breaker_open")}
    assert chall.health()["state"] == "degraded"
    with pytest.raises(Unavailable, match="circuit breaker is open"):
        router.route({"x-trk-variant": "challenger"})
    shadow = Router(champ, chall, mode="shadow")
    assert shadow.route({}).shadow is None  # no copies either
    now[0] = 10.0  # cool-down over: one probe goes through, the rest wait for its answer
    assert router.route({}).primary.name == CHALLENGER
    assert router.route({}).primary.name == CHAMPION
    breaker.record(timed_out=False)  # the probe answered in time
    assert router.route({}).primary.name == CHALLENGER
    assert chall.health()["state"] == "ready"


def test_shadow_mode_champion_answers_and_sample_is_respected():
    router = Router(*slots(), mode="shadow", shadow_sample=1.0)
    primary, shadow = router.route({})  # unpacks like the DataPlane does
    assert (primary.name, shadow.name) == (CHAMPION, CHALLENGER)
    sampled = Router(*slots(), mode="shadow", shadow_sample=0.2, rng=random.Random(3))
    routes = [sampled.route({}) for _ in range(5000)]
    assert all(r.primary.name == CHAMPION for r in routes)
    assert abs(sum(r.shadow is not None for r in routes) / 5000 - 0.2) < 0.02
    assert Router(*slots(), mode="shadow", shadow_sample=0.0).route({}).shadow is None


def test_unloaded_challenger_sends_everything_to_the_champion():
    for mode in ("split", "shadow"):
        router = Router(*slots(challenger_loaded=False), mode=mode, weight=1.0)
        route = router.route({})
        assert (route.primary.name, route.shadow, route.reason) == (
            CHAMPION,
            None,
            "challenger_unavailable",
        )


def test_unloaded_champion_is_unavailable():
    champ = VariantSlot(CHAMPION, "models:/iris@champion")
    with pytest.raises(Unavailable, match="not ready"):
        Router(champ, None).route({})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "split", "weight": 1.5}, "--challenger-weight must be within"),
        ({"mode": "split", "weight": -0.1}, "--challenger-weight must be within"),
        ({"mode": "shadow", "shadow_sample": 2}, "--shadow-sample must be within"),
        ({"mode": "canary"}, "--mode 'canary' is unknown"),
    ],
)
def test_bad_settings_refused_in_one_line(kwargs, message):
    with pytest.raises(InvalidParameter, match=message) as info:
        Router(*slots(), **kwargs)
    assert "\n" not in info.value.message


def test_describe_names_mode_and_weights():
    router = Router(*slots(), mode="split", weight=0.3, sticky_header="X-User-Id")
    assert router.describe() == {
        "mode": "split",
        "challenger_weight": 0.3,
        "shadow_sample": 0.0,
        "sticky_header": "x-user-id",
        "allow_forced_variant": False,
    }


@pytest.mark.parametrize(
    "mode, weight, force",
    [
        ("single", 0.0, None),
        ("split", 0.3, None),
        ("split", 0.0, None),
        ("split", 1.0, None),
        ("shadow", 0.0, None),
        ("split", 0.3, "challenger"),
        ("split", 0.3, "champion"),
    ],
)
def test_a_route_carries_the_probability_the_router_states_for_its_variant(mode, weight, force):
    champ, chall = slots()
    router = Router(
        champ,
        chall if mode != "single" else None,
        mode,
        weight,
        allow_forced=True,
        rng=random.Random(3),
    )
    headers = {"x-trk-variant": force} if force else {}
    for _ in range(50):
        route = router.route(headers)
        assert route.probability == router.probability(route.primary.name)


def test_single_mode_hands_out_one_route_until_the_champion_is_swapped():
    champ, _ = slots()
    router = Router(champ, None)
    first = router.route({})
    assert router.route({}) is first
    champ.swap(Variant(CHAMPION, champ.uri, None, "iris", "2"))
    again = router.route({})
    assert again is not first and again.primary.version == "2"
