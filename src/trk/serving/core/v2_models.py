"""What the Open Inference Protocol calls models: the variants a plane serves, by name/version.

A model's name is its registered name (a path's directory name); `versions/{v}` picks the
variant serving that version, and infer then forces it (when routing allows forcing).
Metadata lists inputs and outputs with V2 datatypes and shapes from the signature.
"""

from __future__ import annotations

from importlib.metadata import version as package_version
from typing import Any

from trk.exceptions import NotFound, Unavailable
from trk.serving.core.plane import DataPlane
from trk.serving.core.v2_types import COLUMN_DATATYPES, datatype_of
from trk.serving.core.variant import CHAMPION, DEFAULT_OUTPUT, Variant

INPUT = "inputs"  # the name of a model's one unnamed input (MLflow's JSON key)


def server_metadata() -> dict[str, Any]:
    """`GET /v2`: name, version and the protocol extensions served."""
    return {"name": "trk", "version": package_version("trk"), "extensions": []}


def loaded(plane: DataPlane) -> list[Variant]:
    """The variants serving now, champion first."""
    return [s.current for s in plane.slots.values() if s.current is not None]


def find(plane: DataPlane, name: str, version: str | None = None) -> Variant:
    """The variant serving `name` (at `version`); 404 naming what is served, 503 if none is."""
    variants = loaded(plane)
    if not variants:
        raise Unavailable(f"Model {name[:80]!r} is not ready: nothing is loaded yet")
    named = [v for v in variants if v.model_name == name]
    if not named:
        served = ", ".join(sorted({v.model_name for v in variants}))
        raise NotFound(f"Unknown model {name[:80]!r}; this server serves {served}")
    if version is None:
        return next((v for v in named if v.name == CHAMPION), named[0])
    match = next((v for v in named if v.version == version), None)
    if match is None:
        versions = ", ".join(v.version for v in named)
        raise NotFound(
            f"Model {name[:80]!r} has no version {version[:40]!r} here; served: {versions}"
        )
    return match


def forced_variant(plane: DataPlane, name: str, version: str | None) -> str | None:
    """The variant an infer path forces: None (routing decides) unless it names a version."""
    champion = plane.slots[CHAMPION].current
    if version is None and champion is not None and champion.model_name == name:
        return None  # the common case, checked without building lists (the hot path)
    variant = find(plane, name, version)
    return variant.name if version is not None else None


def model_metadata(plane: DataPlane, name: str, version: str | None = None) -> dict[str, Any]:
    """`GET /v2/models/{name}[/versions/{v}]`: versions, platform, inputs and outputs."""
    variant = find(plane, name, version)
    versions = [v.version for v in loaded(plane) if v.model_name == name]
    signature = variant.model.metadata.signature
    return {
        "name": name,
        "versions": versions if version is None else [variant.version],
        "platform": variant.flavor,
        "inputs": tensors(signature.inputs if signature else None, [INPUT]),
        "outputs": tensors(
            signature.outputs if signature else None, variant.output_names or [DEFAULT_OUTPUT]
        ),
    }


def tensors(schema: Any, names: list[str]) -> list[dict[str, Any]]:
    """A signature schema as V2 tensor metadata: columns are `[-1]` tensors each."""
    if schema is None or not len(schema):
        return []
    if schema.has_input_names():
        names = list(schema.input_names())
    elif len(schema) > 1:
        names = [f"{names[0]}-{i}" for i in range(len(schema))]
    out = []
    for name, spec in zip(names, schema.inputs, strict=False):
        if hasattr(spec, "shape"):
            out.append(
                {"name": name, "datatype": datatype_of(spec.dtype), "shape": list(spec.shape)}
            )
        else:
            out.append({"name": name, "datatype": COLUMN_DATATYPES[spec.type], "shape": [-1]})
    return out
