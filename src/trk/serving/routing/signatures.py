"""Champion vs challenger signatures: inputs must match (names, types, tensor shapes).

The challenger is given the champion's decoded input (shadow copies) and the same request
bodies (split), so a difference in inputs refuses the start with one line naming it, unless
`--allow-signature-mismatch`. Outputs that differ only warn: the comparison then counts
errors or disagreements, which is what a user who changed the output wants to see.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from trk.exceptions import SignatureMismatch
from trk.serving.core.variant import CHALLENGER, CHAMPION, Variant, VariantSlot

log = logging.getLogger("trk.serving")
OVERRIDE = "--allow-signature-mismatch"


def _spec_label(spec: Any, index: int) -> str:
    return repr(spec.name) if spec.name is not None else f"#{index}"


def _shape_differs(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """-1 is any size, so it matches every size."""
    if len(a) != len(b):
        return True
    return any(x != y and x != -1 and y != -1 for x, y in zip(a, b, strict=True))


def _spec_difference(what: str, index: int, a: Any, b: Any) -> str | None:
    label = _spec_label(a, index)
    if a.name != b.name:
        return f"{what} {label} of the champion is {_spec_label(b, index)} in the challenger"
    if hasattr(a, "shape"):  # TensorSpec
        if a.dtype != b.dtype:
            return f"{what} {label} is {a.dtype.name} in the champion, {b.dtype.name} in the challenger"
        if _shape_differs(a.shape, b.shape):
            return f"{what} {label} has shape {list(a.shape)} in the champion, {list(b.shape)} in the challenger"
        return None
    if a.type != b.type:
        return f"{what} {label} is {a.type} in the champion, {b.type} in the challenger"
    return None


def _names_difference(what: str, a: Any, b: Any) -> str | None:
    names_a, names_b = a.input_names(), b.input_names()
    missing = [n for n in names_a if n not in names_b]
    if missing:
        return f"champion {what} {missing[0]!r} is missing from the challenger"
    extra = [n for n in names_b if n not in names_a]
    if extra:
        return f"challenger {what} {extra[0]!r} is not in the champion"
    if names_a != names_b:
        return f"{what}s are in a different order: champion {names_a}, challenger {names_b}"
    return None


def schema_difference(what: str, a: Any, b: Any) -> str | None:
    """The first difference between two Schemas, in words; None when they match."""
    if a is None or b is None:
        if a is None and b is None:
            return None
        side = "champion" if a is None else "challenger"
        return f"the {side} has no {what} signature"
    if a.is_tensor_spec() != b.is_tensor_spec():
        kinds = ["tensors" if s.is_tensor_spec() else "columns" for s in (a, b)]
        return f"{what}s are {kinds[0]} in the champion, {kinds[1]} in the challenger"
    if a.has_input_names() and b.has_input_names():
        diff = _names_difference(what, a, b)
        if diff:
            return diff
    elif len(a) != len(b):
        return f"the champion has {len(a)} {what}s, the challenger {len(b)}"
    for i, (sa, sb) in enumerate(zip(a.inputs, b.inputs, strict=True)):
        diff = _spec_difference(what, i, sa, sb)
        if diff:
            return diff
    return None


def check_signatures(champion: Any, challenger: Any, allow_mismatch: bool = False) -> list[str]:
    """Raise SignatureMismatch on differing inputs (unless allowed); return warnings.

    `champion` and `challenger` are ModelSignatures or None (a model saved without one).
    """
    warnings: list[str] = []
    if champion is None or challenger is None:
        if champion is not challenger:
            side = "champion" if champion is None else "challenger"
            warnings.append(f"the {side} has no signature: inputs cannot be compared")
            log.warning("%s", warnings[0])
        return warnings
    diff = schema_difference("input", champion.inputs, challenger.inputs)
    if diff:
        message = f"Challenger input signature differs from the champion's: {diff}"
        if not allow_mismatch:
            raise SignatureMismatch(f"{message} (start anyway with {OVERRIDE})")
        warnings.append(message)
    out = schema_difference("output", champion.outputs, challenger.outputs)
    if out:
        warnings.append(f"Challenger output signature differs from the champion's: {out}")
    for line in warnings:
        log.warning("%s", line)
    return warnings


def signature_at(uri: str, store: Any = None) -> Any:
    """A model's signature from its MLmodel file, without loading the model."""
    from trk.models.mlmodel import Model
    from trk.uri import resolve_model_dir

    return Model.load(resolve_model_dir(uri, store)).signature


def check_at_start(
    champion_uri: str, challenger_uri: str | None, store: Any, allow_mismatch: bool = False
) -> list[str]:
    """Compare the two models' signatures before serving; a challenger not found is skipped.

    A challenger URI that does not resolve yet is not an error: the server starts with the
    champion alone and the reloader retries (and checks) it later.
    """
    from trk.exceptions import TrkError

    if not challenger_uri:
        return []
    try:
        challenger = signature_at(challenger_uri, store)
    except TrkError as exc:
        log.warning("challenger %s is not available yet: %s", challenger_uri, exc.message)
        return []
    return check_signatures(signature_at(champion_uri, store), challenger, allow_mismatch)


class SignatureGuard:
    """Refuses a challenger whose inputs differ from the champion's, at start and on reload.

    A new champion always installs (production decides); what it breaks is logged.
    """

    def __init__(self, slots: Mapping[str, VariantSlot], allow_mismatch: bool = False) -> None:
        self.slots, self.allow_mismatch = slots, allow_mismatch

    def __call__(self, slot: VariantSlot, variant: Variant) -> None:
        other = self.slots.get(CHAMPION if slot.name == CHALLENGER else CHALLENGER)
        if other is None or other.current is None:
            return
        ours, theirs = variant.model.metadata.signature, other.current.model.metadata.signature
        if slot.name == CHALLENGER:
            check_signatures(theirs, ours, self.allow_mismatch)
            return
        try:
            check_signatures(ours, theirs)
        except SignatureMismatch as exc:
            log.warning("new champion v%s: %s", variant.version, exc.message)
