"""Issue 14, secrets: the token never in argv nor in a worker's environment, placeholder
tokens and tokenless non-loopback binds refused, printed URLs redacted, and `/health` saying
only ok or not ok."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import create_engine

from trk.store.engine import dispose_engine, sql_url

TOKEN = "a-real-token-from-a-secret-manager-42"
PASSWORD = "hunter2-db-password"


def _trk(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    code = "from trk.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _in_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A refused start runs no server: click's runner saves a process start per case."""
    from click.testing import CliRunner

    from trk.cli import main

    done = CliRunner().invoke(main, list(args), env=env)
    return subprocess.CompletedProcess(args, done.exit_code, done.stdout, done.stderr)


def _refused(result: subprocess.CompletedProcess, *hidden: str) -> str:
    """The one error line of a refused start (exit 1), checked to hide every `hidden` value."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for value in hidden:
        assert value not in result.stderr + result.stdout
    return lines[0]


def test_tokens_on_the_command_line_and_placeholders_are_refused(tmp_path):
    backend = ("--backend-store-uri", f"sqlite:///{tmp_path / 's.db'}", "--port", "9")
    assert "process list" in _refused(_in_process("server", *backend, "--auth-token", TOKEN))
    for bad in ("change-me", "", "short-token", "CHANGE-ME-please-now", "password"):
        line = _refused(_in_process("server", *backend, env={"TRK_AUTH_TOKEN": bad}))
        assert "placeholder" in line, bad
        token_file = tmp_path / "token"
        token_file.write_text(bad + "\n")
        assert "placeholder" in _refused(
            _in_process("server", *backend, "--auth-token-file", str(token_file))
        )
    assert "Cannot read" in _refused(
        _in_process("server", *backend, "--auth-token-file", str(tmp_path / "nope"))
    )
    assert not (tmp_path / "s.db").exists()  # refused before the store was opened


def test_non_loopback_without_a_token_is_refused(tmp_path):
    backend = ("--backend-store-uri", f"sqlite:///{tmp_path / 's.db'}", "--port", "9")
    for host in ("0.0.0.0", "::", "10.0.0.1", "trk.example"):
        line = _refused(_in_process("server", *backend, "--host", host))
        assert "--insecure-no-auth" in line and host in line
        assert "--insecure-no-auth" in _refused(_in_process("ui", *backend, "--host", host))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_token_file_keeps_the_token_out_of_argv_and_worker_environments(server_factory, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    server = server_factory(None, None, "--auth-token-file", str(token_file), "--workers", "2")
    api = server.url + "/api/2.0/mlflow/experiments/get?experiment_id=0"
    assert httpx.get(api).status_code == 401
    assert httpx.get(api, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    processes = [server.proc.pid, *_children(server.proc.pid)]
    processes += [grandchild for pid in processes[1:] for grandchild in _children(pid)]
    assert len(processes) >= 3  # the supervisor and two workers at least
    for pid in processes:
        assert TOKEN.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes(), pid
        assert TOKEN.encode() not in Path(f"/proc/{pid}/environ").read_bytes(), pid


def _with_password(pg_uri: str) -> str:
    """`pg_uri` with a password in it (the test cluster trusts local users and ignores it)."""
    scheme, rest = pg_uri.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{PASSWORD}@{host}"


def test_printed_urls_are_redacted(pg_uri, tmp_path):
    secret_uri = _with_password(pg_uri)
    done = _trk("db", "upgrade", secret_uri)
    assert done.returncode == 0, done.stderr
    assert "schema at revision" in done.stdout and ":***@" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    bad = secret_uri.replace("@127.0.0.1:", "@127.0.0.1:notaport")
    _refused(_trk("db", "upgrade", bad), PASSWORD)
    _refused(_trk("db", "upgrade", secret_uri.replace("postgresql", "postgresq")), PASSWORD)
    with socket.socket() as taken:  # a port in use: `trk ui` prints its line, then stops
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        ui = _trk("ui", "--backend-store-uri", secret_uri, "--port", port)
    err = ui.stderr
    assert f"trk ui: http://127.0.0.1:{port}/ on " in err and ":***@" in err
    assert PASSWORD not in err


def test_health_says_only_ok_or_not_ok(pg_server, pg_uri, server_factory):
    server = server_factory(pg_uri)
    assert httpx.get(server.url + "/health").text == "OK"
    name = pg_uri.rsplit("/", 1)[1]
    admin = create_engine(sql_url(f"{pg_server}/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()
    dispose_engine(pg_uri)
    got = httpx.get(server.url + "/health")
    assert got.status_code == 503
    assert got.text == "not ok"  # never the driver's text (database names, hosts, users)
