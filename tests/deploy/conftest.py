"""Fixtures for the deploy tests: the repository's Dockerfiles and rendered kustomizations."""

from __future__ import annotations

from pathlib import Path

import _dockerfile
import _kustomize
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = {"serve": ROOT / "Dockerfile.serve", "server": ROOT / "Dockerfile.server"}
KUSTOMIZATIONS = {
    "base": ROOT / "k8s" / "base",
    "shadow": ROOT / "k8s" / "overlays" / "shadow",
    "basic-auth": ROOT / "k8s" / "overlays" / "basic-auth",
}


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session", params=sorted(DOCKERFILES))
def dockerfile(request: pytest.FixtureRequest) -> tuple[str, Path, list[_dockerfile.Stage]]:
    """(image name, path, parsed stages) for each Dockerfile."""
    path = DOCKERFILES[request.param]
    return request.param, path, _dockerfile.parse(path)


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict]]:
    """Every kustomization rendered: {"base": [...objects], "shadow": [...]}."""
    return {name: _kustomize.render(path) for name, path in KUSTOMIZATIONS.items()}
