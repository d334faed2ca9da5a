"""`trk models profile`: a registered version plus a reference profile, as a new version.

A registered version's files are pinned by digest, so the profile is never written into
them: the files are copied, the profile added, and the copy logged and registered as the
next version of the same model (tagged with the version it came from).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from trk.exceptions import InvalidParameter
from trk.models.mlmodel import Model
from trk.models.profile import ReferenceProfile, build_profile, save_profile

PROFILED_FROM = "trk.profiled_from"


def read_table(path: str | Path) -> Any:
    """A DataFrame from a .parquet or .csv file; anything else, or unreadable, is refused."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InvalidParameter(f"--data {path.name}: use a .parquet or .csv file")
    try:
        return pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except Exception as e:  # a missing, truncated or foreign file fails in many ways
        raise InvalidParameter(
            f"--data {path.name} cannot be read: {type(e).__name__}: {e}"
        ) from None


def profile_version(name: str, version: str, data_path: str | Path) -> tuple[str, ReferenceProfile]:
    """Register NAME's next version: VERSION's files plus a profile of `data_path`."""
    import trk
    from trk.models.writer import log_model_dir
    from trk.uri import fetch_model

    data = read_table(data_path)
    files = fetch_model(f"models:/{name}/{version}")  # verified against its digest
    mlmodel = Model.load(files.path)
    names = None
    if mlmodel.signature is not None and mlmodel.signature.inputs.has_input_names():
        names = mlmodel.signature.inputs.input_names()
        missing = [n for n in names if n not in getattr(data, "columns", [])]
        if missing:
            raise InvalidParameter(f"--data lacks the model's input columns {missing}")
        data = data[names]
    profile = build_profile(data, names)

    def copy(path: Path) -> Model:
        shutil.copytree(files.path, path)
        save_profile(path, profile)
        return Model.load(path)

    client = trk.Client()
    source_run = client.get_model_version(name, version).run_id
    experiment_id = client.get_run(source_run).info.experiment_id if source_run else None
    with trk.start_run(experiment_id=experiment_id, run_name=f"profile-{name}-v{version}"):
        trk.log_params(
            {"source_model_uri": f"models:/{name}/{version}", "profile_rows": profile.rows}
        )
        info = log_model_dir(copy, "model", registered_model_name=name)
    new = str(info.registered_model_version)
    client.set_model_version_tag(name, new, PROFILED_FROM, str(version))
    return new, profile
