"""Inverse-propensity estimates of each variant's accuracy from the shared prediction log.

Every logged prediction carries the probability it had of reaching the variant that answered
(`routing probability`). Weighing each labelled answer by 1 / that probability estimates the
accuracy a variant would have on all traffic, not only on the traffic routing sent it
(Horvitz and Thompson, "A Generalization of Sampling Without Replacement from a Finite
Universe", JASA 1952); the self-normalised form divides by the sum of the weights instead of
the count (Hajek 1971), a small bias for a lower variance. It matters where routing follows
the labels (bandit rollouts); with a fixed split it agrees with the plain accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Propensity:
    """One variant's labelled answers weighted by 1 / the chance they had of reaching it."""

    variant: str
    labelled: int
    inverse_sum: float  # sum of 1 / p over its labelled answers
    correct_inverse_sum: float  # the same over the correct ones

    def ips(self, total_labelled: int) -> float | None:
        """Horvitz-Thompson: sum(correct / p) / every labelled request (all variants)."""
        return self.correct_inverse_sum / total_labelled if total_labelled else None

    @property
    def snips(self) -> float | None:
        """Self-normalised (Hajek): sum(correct / p) / sum(1 / p)."""
        return self.correct_inverse_sum / self.inverse_sum if self.inverse_sum else None


def estimates(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (variant, version) of the store's `propensity` rows: labelled, ips, snips."""
    props = [
        (
            r["version"],
            Propensity(r["variant"], r["labelled"], r["inverse_sum"], r["correct_inverse_sum"]),
        )
        for r in rows
    ]
    total = sum(p.labelled for _, p in props)
    return [
        {
            "variant": p.variant,
            "version": version,
            "labelled": p.labelled,
            "ips_accuracy": p.ips(total),
            "snips_accuracy": p.snips,
        }
        for version, p in props
    ]
