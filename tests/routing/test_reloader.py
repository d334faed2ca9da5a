"""Reloader against a real sqlite registry: alias moves, failed loads, late challengers."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from routing_helpers import expected
from serving_helpers import metric_value, wait_until

from trk.serving.core.metrics import ServingMetrics
from trk.serving.core.variant import CHALLENGER, CHAMPION, VariantSlot, load_variant
from trk.serving.routing.metrics import RoutingMetrics
from trk.serving.routing.reloader import Reloader

pytestmark = pytest.mark.unit


def make(routing_env, *uris: str, interval: float = 60.0, allow_pickle: bool = False):
    client = routing_env.client()
    slots = {n: VariantSlot(n, u) for n, u in zip((CHAMPION, CHALLENGER), uris, strict=False)}
    registry = CollectorRegistry()
    installed = []

    def install(slot, variant):
        installed.append((slot.name, variant.version))
        return slot.swap(variant)

    def load(slot):
        return load_variant(slot.name, slot.uri, client.store, allow_pickle=allow_pickle)

    metrics = RoutingMetrics(ServingMetrics(registry))
    reloader = Reloader(slots, lambda: client, interval, load, metrics, install)
    return reloader, slots, client, registry, installed


def test_alias_move_swaps_and_old_model_stays_usable(routing_env):
    name = routing_env.new_model("lr", "rf", aliases={"champion": 1})
    reloader, slots, client, registry, installed = make(routing_env, f"models:/{name}@champion")
    reloader.check_once()  # nothing loaded yet: loads v1
    old = slots[CHAMPION].current
    assert (old.version, slots[CHAMPION].state) == ("1", "ready")
    reloader.check_once()
    assert installed == [(CHAMPION, "1")]  # unchanged alias: no reload
    client.set_registered_model_alias(name, "champion", 2)
    reloader.check_once()
    assert slots[CHAMPION].current.version == "2" and installed[-1] == (CHAMPION, "2")
    # a request that read the old variant before the swap finishes on it
    rows = routing_env.x[:3]
    assert old.model.predict_array(rows).tolist() == expected(routing_env.lr, rows).tolist()
    text = generate_latest(registry).decode()
    assert metric_value(text, "trk_model_reloads_total", variant=CHAMPION, result="success") == 2


def test_failed_load_keeps_old_version_degraded_then_recovers(routing_env):
    name = routing_env.new_model("lr", "noload", aliases={"champion": 1})
    reloader, slots, client, registry, _ = make(routing_env, f"models:/{name}@champion")
    reloader.check_once()
    client.set_registered_model_alias(name, "champion", 2)
    reloader.check_once()
    reloader.check_once()  # retried every interval
    slot = slots[CHAMPION]
    assert (slot.current.version, slot.state) == ("1", "degraded")
    assert "loading v2 failed" in slot.health()["error"]
    text = generate_latest(registry).decode()
    assert metric_value(text, "trk_model_reloads_total", variant=CHAMPION, result="failure") == 2
    assert metric_value(text, "trk_variant_state", variant=CHAMPION, state="degraded") == 1
    client.set_registered_model_alias(name, "champion", 1)  # rolled back: healthy again
    reloader.check_once()
    assert (slot.current.version, slot.state) == ("1", "ready")


def test_challenger_missing_at_start_is_retried_until_it_resolves(routing_env):
    name = routing_env.new_model("lr", "rf", aliases={"champion": 1})
    reloader, slots, client, registry, _ = make(
        routing_env, f"models:/{name}@champion", f"models:/{name}@challenger", interval=0.05
    )
    reloader.check_once()
    slot = slots[CHALLENGER]
    assert slot.current is None and slot.state == "failed"
    assert "challenger" in slot.error
    reloader.start()  # the thread retries every interval
    try:
        client.set_registered_model_alias(name, "challenger", 2)
        wait_until(lambda: slot.current is not None, timeout=30)
    finally:
        reloader.stop()
    assert (slot.current.version, slot.state) == ("2", "ready")
    text = generate_latest(registry).decode()
    assert (
        metric_value(text, "trk_model_reloads_total", variant=CHALLENGER, result="check_failed")
        >= 1
    )


def test_plain_paths_never_reload_once_loaded(routing_env, tmp_path):
    from trk.uri import resolve_model_dir

    path = str(resolve_model_dir("models:/iris/1", routing_env.client().store))
    # A bare path: nothing vouches for its cloudpickle, so this test opts in.
    reloader, slots, _, _, installed = make(routing_env, path, allow_pickle=True)
    reloader.check_once()
    reloader.check_once()
    assert installed == [(CHAMPION, "0")]
