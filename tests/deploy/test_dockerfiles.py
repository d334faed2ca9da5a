"""The Dockerfiles, statically: hadolint, and the properties the deployment relies on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import _dockerfile
import pytest

HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))


def hadolint(path: Path, root: Path) -> subprocess.CompletedProcess[str]:
    config = root / ".hadolint.yaml"
    args = [HADOLINT, "--no-color"] + (["--config", str(config)] if config.exists() else [])
    return subprocess.run(args + [str(path)], capture_output=True, text=True, timeout=60)


def test_hadolint_passes(dockerfile, root):
    _, path, _ = dockerfile
    result = hadolint(path, root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_regression(dockerfile, root, tmp_path):
    """The lint is live: dropping --no-cache-dir from the install is reported."""
    _, path, _ = dockerfile
    broken = tmp_path / path.name
    broken.write_text(path.read_text().replace("pip install --no-cache-dir", "pip install"))
    result = hadolint(broken, root)
    assert result.returncode != 0 and "DL3042" in result.stdout


def test_multi_stage_wheel_then_install(dockerfile):
    _, _, stages = dockerfile
    assert [s.name for s in stages] == ["builder", "runtime"]
    builder, runtime = stages
    assert any("pip wheel" in r.args and "--no-deps" in r.args for r in builder.all("RUN"))
    assert any(c.args.startswith("--from=builder") for c in runtime.all("COPY"))
    # The runtime stage gets the wheel only, never the source tree.
    assert not [c for c in runtime.all("COPY") if not c.args.startswith("--from=")]


def test_runtime_is_slim_and_non_root(dockerfile):
    _, path, stages = dockerfile
    first = path.read_text().split("ARG PYTHON_IMAGE=")[1].split()[0]
    assert first.startswith("python:3.11-slim")
    users = stages[-1].all("USER")
    assert users, "no USER: the container would run as root"
    uid = users[-1].args.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "numeric uid lets Kubernetes verify runAsNonRoot"


@pytest.mark.parametrize(
    "name, port, probe, entrypoint",
    [("serve", "8080", "/ping", ["trk-serve"]), ("server", "5000", "/health", ["trk", "server"])],
)
def test_port_healthcheck_entrypoint(name, port, probe, entrypoint, root):
    runtime = _dockerfile.parse(root / f"Dockerfile.{name}")[-1]
    assert [e.args for e in runtime.all("EXPOSE")] == [port]
    assert runtime.env()["TRK_PORT"] == port and runtime.env()["TRK_HOST"] == "0.0.0.0"
    (check,) = runtime.all("HEALTHCHECK")
    assert probe in check.args and "urllib.request" in check.args and "curl" not in check.args
    (entry,) = runtime.all("ENTRYPOINT")
    assert entry.exec_form() == entrypoint  # exec form: SIGTERM reaches trk, not a shell


def test_serve_extras_are_build_args(root):
    runtime = _dockerfile.parse(root / "Dockerfile.serve")[-1]
    args = runtime.args()
    assert args["TRK_EXTRAS"] == "sklearn"
    assert args["TORCH_INDEX_URL"].startswith("https://download.pytorch.org/whl/cpu")
    install = next(r.args for r in runtime.all("RUN") if "pip install" in r.args)
    assert "[${TRK_EXTRAS}]" in install and '"${TORCH_INDEX_URL}"' in install
    # torch enters only through the extra, pinned exactly.
    assert "torch" not in install.replace("TORCH_INDEX_URL", "")
    pyproject = (root / "pyproject.toml").read_text()
    assert 'torch = ["torch==2.13.0"]' in pyproject
