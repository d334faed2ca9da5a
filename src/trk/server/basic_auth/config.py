"""The basic-auth configuration, in MLflow's `basic_auth.ini` format.

Read from the file `MLFLOW_AUTH_CONFIG_PATH` names (section `[mlflow]`: `default_permission`,
`admin_username`, `admin_password`); `MLFLOW_AUTH_ADMIN_USERNAME` / `_PASSWORD` override the
file, so the admin password can come from a Secret instead of a file. Never from argv.
MLflow's `database_uri` is ignored: users live in trk's own store.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass

from trk import settings
from trk.exceptions import InvalidParameter
from trk.server.basic_auth.permissions import get_permission


@dataclass(frozen=True)
class AuthConfig:
    default_permission: str
    admin_username: str | None
    admin_password: str | None


def read_config(path: str | None = None) -> AuthConfig:
    """The configuration from `path`, else `MLFLOW_AUTH_CONFIG_PATH`, else the defaults
    (READ for everyone, no admin until one is configured)."""
    path = path or settings.auth_config_path()
    parser = configparser.ConfigParser()
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except (OSError, configparser.Error) as exc:
            raise InvalidParameter(f"Cannot read the basic-auth config {path}: {exc}") from None
    section = parser["mlflow"] if parser.has_section("mlflow") else {}
    env_user, env_password = settings.auth_admin_credentials()
    default = section.get("default_permission", "READ")
    get_permission(default)  # a typo here would silently open or close everything
    return AuthConfig(
        default_permission=default,
        admin_username=(env_user if env_user is not None else section.get("admin_username"))
        or None,
        admin_password=(env_password if env_password is not None else section.get("admin_password"))
        or None,
    )
