"""Run each Dockerfile's own RUN and ENTRYPOINT commands in a fresh virtualenv (no Docker here).

The builder stage's `pip wheel` runs on a copy of what its COPY lines copy; the runtime
stage's `pip install` runs in a new virtualenv. Offline and fast: pip gets `--no-index`
through the environment, and the dependencies are the test venv's, seen through a .pth
file that leaves out trk itself (so the wheel, not the checkout, is what gets imported).
The `useradd` line is not run: it needs root and changes the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import _dockerfile
import pytest

SITE = Path(sysconfig.get_paths()["purelib"])
OFFLINE = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}


def shell(command: str, cwd: Path, env: dict[str, str]) -> None:
    """Run one RUN line as Docker does (`/bin/sh -c`), failing with its output."""
    result = subprocess.run(
        ["/bin/sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"


def copy_context(stage: _dockerfile.Stage, root: Path, workdir: Path) -> None:
    """Do the stage's plain COPY lines (paths relative to the build context)."""
    for ins in stage.all("COPY"):
        *sources, dest = ins.args.split()
        target = workdir / dest if not dest.startswith("/") else workdir / dest.lstrip("/")
        for src in sources:
            path = root / src
            if path.is_dir():
                shutil.copytree(
                    path, target, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
                )
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target / path.name)


def dependency_view(tmp: Path) -> Path:
    """The test venv's site-packages without trk: symlinks, made visible by a .pth file."""
    view = tmp / "deps"
    view.mkdir()
    for entry in SITE.iterdir():
        name = entry.name
        if name.startswith(("trk", "__editable__", "pip")) or name.endswith(".pth"):
            continue
        (view / name).symlink_to(entry)
    return view


def base_env(bin_dir: Path, home: Path) -> dict[str, str]:
    return {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


@pytest.fixture(scope="module", params=["serve", "server"])
def image(request, root, tmp_path_factory):
    """A virtualenv built by the Dockerfile's own commands: (name, venv bin dir, runtime env)."""
    name = request.param
    tmp = tmp_path_factory.mktemp(f"image-{name}")
    builder, runtime = _dockerfile.parse(root / f"Dockerfile.{name}")
    wheels = tmp / "wheels"

    src = tmp / "src"
    copy_context(builder, root, src)
    env = base_env(Path(sys.executable).parent, tmp) | OFFLINE | builder.args()
    for run in builder.all("RUN"):
        shell(run.args, src, env | {"WHEEL_DIR": str(wheels)})
    assert len(list(wheels.glob("trk-*.whl"))) == 1

    venv = tmp / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "trk-deps.pth").write_text(f"{dependency_view(tmp)}\n")
    env = base_env(venv / "bin", tmp) | OFFLINE | runtime.args()
    env |= {"WHEEL_DIR": str(wheels), "PIP_FIND_LINKS": str(wheels)}
    installs = [r.args for r in runtime.all("RUN") if "pip install" in r.args]
    assert len(installs) == 1
    shell(installs[0], tmp, env)
    assert not wheels.exists(), "the install step cleans up the wheel"
    return name, venv / "bin", base_env(venv / "bin", tmp) | runtime.env(), runtime


def entrypoint(runtime: _dockerfile.Stage, bin_dir: Path, *args: str) -> list[str]:
    (entry,) = runtime.all("ENTRYPOINT")
    argv = entry.exec_form()
    return [str(bin_dir / argv[0]), *argv[1:], *args]


def test_the_wheel_is_what_gets_imported(image, tmp_path):
    _, bin_dir, env, _ = image
    out = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import trk, sys; print(trk.__file__); print('torch' in sys.modules)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out[0].startswith(str(bin_dir.parent / "lib")), out
    assert out[1] == "False"


def test_entrypoint_help_lists_env_vars(image, tmp_path):
    name, bin_dir, env, runtime = image
    result = subprocess.run(
        entrypoint(runtime, bin_dir, "--help"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    expected = "TRK_MODEL_URI" if name == "serve" else "TRK_BACKEND_STORE_URI"
    assert expected in result.stdout and "TRK_PORT" in result.stdout


@pytest.mark.parametrize("image", ["serve"], indirect=True)
def test_serve_without_model_uri_says_one_line(image, tmp_path):
    """trk server has a default store; trk-serve cannot guess a model."""
    _, bin_dir, env, runtime = image
    result = subprocess.run(
        entrypoint(runtime, bin_dir),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1 and "TRK_MODEL_URI" in lines[0], result.stderr
