"""Run each Dockerfile's own RUN and ENTRYPOINT commands in a fresh virtualenv (no Docker here).

The builder stage's `pip wheel` runs on a copy of what its COPY lines copy; the runtime
stage's `pip install` runs in a new virtualenv. Offline and fast: pip gets `--no-index`
through the environment, and the dependencies are the test venv's, seen through a .pth
file that leaves out trk itself (so the wheel, not the checkout, is what gets imported).
The `useradd` line is not run: it needs root and changes the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import _dockerfile
import httpx
import pytest

pytestmark = pytest.mark.e2e

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
        if name.startswith(("trk", "__editable__")) or name.endswith(".pth"):
            continue
        (view / name).symlink_to(entry)
    return view


def base_env(bin_dir: Path, home: Path) -> dict[str, str]:
    return {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


_WHEELS: dict[tuple[str, ...], Path] = {}


def build_wheel(builder: _dockerfile.Stage, root: Path, tmp: Path) -> Path:
    """The builder stage's COPY and RUN lines; identical stages share one build."""
    key = tuple(f"{i.keyword} {i.args}" for i in builder.instructions)
    if key not in _WHEELS:
        src, wheels = tmp / "src", tmp / "wheels"
        copy_context(builder, root, src)
        env = base_env(Path(sys.executable).parent, tmp) | OFFLINE | builder.args()
        for run in builder.all("RUN"):
            shell(run.args, src, env | {"WHEEL_DIR": str(wheels)})
        _WHEELS[key] = wheels
    (wheel,) = _WHEELS[key].glob("trk-*.whl")
    return wheel


def fresh_venv(tmp: Path) -> Path:
    """A new virtualenv seeing the test venv's packages but trk; its pip is the test venv's
    pip run by the new interpreter (installs land in the new venv; skips ensurepip)."""
    venv = tmp / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "trk-deps.pth").write_text(f"{dependency_view(tmp)}\n")
    pip = venv / "bin" / "pip"
    pip.write_text(
        f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom pip._internal.cli.main import main\n"
        "sys.exit(main())\n"
    )
    pip.chmod(0o755)
    return venv


@pytest.fixture(scope="module", params=["serve", "server"])
def image(request, root, tmp_path_factory):
    """A virtualenv built by the Dockerfile's own commands: (name, venv bin, env, runtime)."""
    name = request.param
    tmp = tmp_path_factory.mktemp(f"image-{name}")
    builder, runtime = _dockerfile.parse(root / f"Dockerfile.{name}")
    wheels = tmp / "wheels"  # the COPY --from=builder
    wheels.mkdir()
    shutil.copy(build_wheel(builder, root, tmp_path_factory.mktemp("builder")), wheels)

    venv = fresh_venv(tmp)
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
    if name == "serve":  # issue 4: --help lists each flag's variable
        assert "TRK_MODEL_URI" in result.stdout and "TRK_PORT" in result.stdout
    else:
        assert "--backend-store-uri" in result.stdout and "--artifacts-destination" in result.stdout


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


@pytest.mark.parametrize("image", ["server"], indirect=True)
def test_server_image_refuses_to_listen_without_a_token(image, tmp_path):
    """Issue 14: the image binds 0.0.0.0 (its own TRK_HOST); without a token it stops with one
    line before opening the store, and a placeholder token is no token."""
    _, bin_dir, env, runtime = image
    assert env["TRK_HOST"] == "0.0.0.0"
    for extra in ({}, {"TRK_AUTH_TOKEN": "change-me"}):
        result = subprocess.run(
            entrypoint(runtime, bin_dir),
            cwd=tmp_path,
            env=env | extra,
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 1, result.stderr
        assert len(lines) == 1 and ("--insecure-no-auth" in lines[0] or "placeholder" in lines[0])
    assert not (tmp_path / "trk.db").exists()


def registered_iris(tmp: Path) -> str:
    """A sqlite store in `tmp` with iris@champion registered; its tracking URI."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import trk
    import trk.sklearn

    uri = f"sqlite:///{tmp / 'trk.db'}"
    x, y = load_iris(return_X_y=True)
    client = trk.Client(uri)
    exp = client.create_experiment("deploy", artifact_location=str(tmp / "artifacts"))
    trk.set_tracking_uri(uri)
    try:
        with trk.start_run(experiment_id=exp):
            info = trk.sklearn.log_model(
                LogisticRegression(max_iter=300).fit(x, y),
                name="model",
                registered_model_name="iris",
                input_example=x[:2],
            )
    finally:
        trk.set_tracking_uri(None)
    client.set_registered_model_alias("iris", "champion", info.registered_model_version)
    return uri


def run_env(name: str, tmp: Path, port: int) -> dict[str, str]:
    """What a deployment would set for each image (k8s/base's ConfigMap and Secret)."""
    if name == "serve":
        return {
            "TRK_MODEL_URI": "models:/iris@champion",
            "TRK_TRACKING_URI": registered_iris(tmp),
            "TRK_MODEL_CACHE": str(tmp / "cache"),
            "TRK_HOST": "127.0.0.1",
            "TRK_PORT": str(port),
        }
    return {
        "TRK_BACKEND_STORE_URI": f"sqlite:///{tmp / 'server.db'}",
        "TRK_ARTIFACTS_DESTINATION": str(tmp / "artifacts"),
        "TRK_HOST": "127.0.0.1",
        "TRK_PORT": str(port),
    }


def healthcheck(runtime: _dockerfile.Stage, env: dict[str, str], cwd: Path) -> int:
    """Run the HEALTHCHECK's exec-form command as Docker would (with the image's PATH)."""
    (check,) = runtime.all("HEALTHCHECK")
    argv = json.loads(check.args[check.args.index("CMD") + 3 :])
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=30).returncode


def test_entrypoint_serves_healthcheck_and_drains(image, tmp_path):
    """The image's entrypoint, configured by variables only: healthy, then SIGTERM -> exit 0."""
    name, bin_dir, env, runtime = image
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = env | run_env(name, tmp_path, port)
    assert healthcheck(runtime, env, tmp_path) != 0, "the check must fail with nothing listening"
    log = (tmp_path / "entrypoint.log").open("wb")
    proc = subprocess.Popen(
        entrypoint(runtime, bin_dir), cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    try:
        ready = "/health"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert proc.poll() is None, (tmp_path / "entrypoint.log").read_text()[-3000:]
        assert healthcheck(runtime, env, tmp_path) == 0
        if name == "serve":
            resp = httpx.post(
                f"http://127.0.0.1:{port}/invocations", json={"inputs": [[5.1, 3.5, 1.4, 0.2]]}
            )
            assert resp.status_code == 200 and resp.json()["predictions"] == [0]
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)  # within k8s/base's grace period
        assert code == 0  # drain, then exit 0: a stop is not a crash
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
