"""MLflow's model version stages: deprecated since MLflow 2.9 and still served by MLflow 3,
so trk stores them too. Aliases are what trk itself uses (serving, rollouts, promotion);
a stage never moves an alias, and an alias never moves a stage.
"""

from __future__ import annotations

from trk.exceptions import InvalidParameter

NONE = "None"
STAGING = "Staging"
PRODUCTION = "Production"
ARCHIVED = "Archived"
STAGES = (NONE, STAGING, PRODUCTION, ARCHIVED)
# The stages whose other versions `archive_existing_versions` moves to Archived (MLflow's).
ACTIVE = (STAGING, PRODUCTION)


def canonical_stage(stage: str) -> str:
    """`stage` spelled as MLflow stores it (`production` -> `Production`); refused otherwise."""
    found = next((s for s in STAGES if s.lower() == str(stage).lower()), None)
    if found is None:
        raise InvalidParameter(
            f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}."
        )
    return found


def is_stage(name: str) -> bool:
    """Whether `name` spells a stage (the `Production` of `models:/iris/Production`)."""
    return name.lower() in (s.lower() for s in STAGES)
